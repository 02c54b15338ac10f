// Command ttpgate is the file exchange and batch processor of a trusted
// third party: run `ttpgate help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/ttpgate/ttpgate/internal/config"
)

const usage = `ttpgate: file exchange and batch processor of a healthcare trusted third party

Usage:
  ttpgate demo [--dir DIR]                      the whole flow on one machine: gateway on loopback, uploads
                                                over SFTP and S3, a processing run, a summary; the folder
                                                (default: new, in the temporary folder) is kept
  ttpgate keygen --out DIR                      create every key a deployment needs (never overwrites)
  ttpgate serve [--config FILE] [--grace 30s]   run the gateway (SFTP and S3 drop-zone; /metrics,
                                                /healthz and /readyz on gateway.admin.listen)
  ttpgate process [--config FILE] [--metrics-file FILE.prom]
                                                one processing run (progress on a terminal; metrics
                                                for node_exporter's textfile collector)
  ttpgate deliver --config FILE --tenant T FILE...
                                                place files as deliveries of tenant T (channel cli)
  ttpgate deliveries list [--config FILE] [--tenant T] [--since DATE] [--json]
                                                what arrived, when, and what became of it
  ttpgate gen rom|lvr1 --rows N --seed S [--dialect D] [-o FILE]
                                                write a synthetic extract
  ttpgate tenants list|check [--config FILE]    show tenants / validate the configuration
  ttpgate tenants s3-credentials [--config FILE] TENANT
                                                print the tenant's S3 access key id and secret
  ttpgate version

Without --config, serve, process and deliver use a development setup in ./ttpgate-data
(created on first use: keys, a local store, example tenants).
`

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

// errHelp marks a request for help (-h, --help) that has been answered:
// exit status 0, and the command does not run.
var errHelp = errors.New("help requested")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, errHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		var problems config.Problems
		if errors.As(err, &problems) {
			// One problem a line, each starting with FILE:LINE: as editors expect.
			fmt.Fprintf(os.Stderr, "ttpgate: the configuration has %d problem(s):\n%v\n", len(problems), err)
		} else {
			fmt.Fprintln(os.Stderr, "ttpgate:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "keygen":
		return cmdKeygen(rest, stdout, stderr)
	case "process":
		return cmdProcess(ctx, rest, stdout, stderr)
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "deliver":
		return cmdDeliver(ctx, rest, stdout, stderr)
	case "deliveries":
		return cmdDeliveries(ctx, rest, stdout, stderr)
	case "gen":
		return cmdGen(rest, stdout, stderr)
	case "tenants":
		return cmdTenants(rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "ttpgate", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "ttpgate: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

// newFlags returns a FlagSet that reports its errors on stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ttpgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args; after -h or --help (answered by fs on its
// output) it returns errHelp, so that the command stops without running.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	return nil
}

// noArgs refuses arguments left after the flags of a command that takes
// none: ignoring them would, say, make "tenants check FILE" quietly check
// the development setup instead of FILE.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
