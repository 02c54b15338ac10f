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
)

const usage = `ttpgate: file exchange and batch processor of a healthcare trusted third party

Usage:
  ttpgate demo                                  the whole flow on embedded defaults in a temporary folder
  ttpgate keygen --out DIR                      create every key a deployment needs (never overwrites)
  ttpgate process [--config FILE]               one processing run
  ttpgate deliver --config FILE --tenant T FILE...
                                                place files as deliveries of tenant T (channel cli)
  ttpgate deliveries list [--config FILE] [--tenant T] [--since DATE]
                                                what arrived, when, and what became of it
  ttpgate gen rom|lvr1 --rows N --seed S [--dialect D] [-o FILE]
                                                write a synthetic extract
  ttpgate tenants list|check [--config FILE]    show tenants / validate the configuration
  ttpgate version

Without --config, process and deliver use a development setup in ./ttpgate-data
(created on first use: keys, a local store, example tenants).
`

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "ttpgate:", err)
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

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
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
