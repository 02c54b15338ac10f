package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ttpgate/ttpgate/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script/*.txtar to what the scripts got")

// TestMain makes the test binary double as the ttpgate command, so that the
// scripts run the real main, exit status included, in a process of its own.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"ttpgate": main})
}

// TestScripts runs the command-line scripts in testdata/script. Besides the
// standard commands they have:
//
//	exits N PROG ARGS...  run PROG as exec does; it must exit with status N
//	perm MODE FILE...   the permission bits of each file are MODE (octal, e.g. 0600)
//	glob PATTERN...     print the files that match, one a line; fail if a pattern matches none
//	cat PATTERN...      print the contents of the files that match, as glob finds them
//	noids ROWS ROWS FILE...  no identifying value of the demo's extracts is in a FILE (demo_test.go)
//	freeports CONFIG NAME  give CONFIG's SFTP, S3 and admin listeners free
//	                  ports on 127.0.0.1, also set as $NAME_SFTP, $NAME_S3, $NAME_ADMIN
//	waitport PORT     wait (up to 30 s) until 127.0.0.1:PORT accepts connections
//	envfile FILE      set the environment variables of FILE's NAME=VALUE lines
//	httpget URL       print the status code and body of a GET of URL
//	httpwait URL CODE wait (up to 10 s) until a GET of URL answers status CODE
//
// and the condition [age]: the age CLI is on PATH. Outside CI a script
// without it skips; under CI (CI=true) asking for it fails the script, so a
// green CI never hides a script that did not run.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("script", nil))
}

// scriptParams are the parameters of the scripts in testdata/DIR: the
// commands and conditions above, and setup, when not nil, run after the
// common setup.
func scriptParams(dir string, setup func(*testscript.Env) error) testscript.Params {
	return testscript.Params{
		Dir:                 filepath.Join("testdata", dir),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *update,
		Setup: func(e *testscript.Env) error {
			// A program built with -race sleeps a second as it exits, to
			// let other threads report; the scripts start dozens.
			if gorace := os.Getenv("GORACE"); !strings.Contains(gorace, "atexit_sleep_ms") {
				e.Setenv("GORACE", strings.TrimSpace(gorace+" atexit_sleep_ms=10"))
			}
			if setup != nil {
				return setup(e)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": cmdExits,
			"perm":  cmdPerm,
			"glob":  cmdGlob,
			"cat":   cmdCat,
			"noids": cmdNoIDs,
			"freeports": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: freeports CONFIG NAME")
				}
				cfg := ts.MkAbs(args[0])
				b, err := os.ReadFile(cfg)
				ts.Check(err)
				text := string(b)
				for _, l := range []struct{ old, env string }{
					{"127.0.0.1:2222", "_SFTP"}, {"127.0.0.1:8443", "_S3"}, {"127.0.0.1:9464", "_ADMIN"},
				} {
					if !strings.Contains(text, l.old) {
						ts.Fatalf("freeports: %s has no listener %s", args[0], l.old)
					}
					port := freePort(ts)
					text = strings.Replace(text, l.old, "127.0.0.1:"+port, 1)
					ts.Setenv(args[1]+l.env, port)
				}
				ts.Check(os.WriteFile(cfg, []byte(text), 0o600))
			},
			"waitport": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: waitport PORT")
				}
				for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
					c, err := net.DialTimeout("tcp", "127.0.0.1:"+args[0], time.Second)
					if err == nil {
						c.Close()
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("waitport: nothing listens on 127.0.0.1:%s: %v", args[0], err)
					}
				}
			},
			"envfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: envfile FILE")
				}
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				for line := range strings.Lines(string(b)) {
					k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
					if !ok {
						ts.Fatalf("envfile: %q is not NAME=VALUE", line)
					}
					ts.Setenv(k, v)
				}
			},
			"httpget":  cmdHTTPGet,
			"httpwait": cmdHTTPWait,
		},
		Condition: scriptCondition,
	}
}

// scriptCondition is true for [age], [sftp] and [aws] when that tool is on
// PATH; under CI asking for a missing one fails the script.
func scriptCondition(cond string) (bool, error) {
	install, ok := map[string]string{
		"age":  "apt-get install -y age",
		"sftp": "apt-get install -y openssh-client",
		"aws":  "apt-get install -y awscli",
	}[cond]
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(cond); err != nil {
		if testenv.InCI() {
			return false, fmt.Errorf("MISSING %s: install with `%s`; see .ci/run", cond, install)
		}
		return false, nil
	}
	return true, nil
}

// cmdExits is exec with an exact exit status: "! exec" accepts any
// failure, but the command line promises 2 for a usage mistake and 1 for
// anything else.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit status", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("exits: %v", err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: perm MODE FILE...")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("perm: %q is not an octal mode", args[0])
	}
	for _, name := range args[1:] {
		fi, err := os.Stat(ts.MkAbs(name))
		ts.Check(err)
		got := fi.Mode().Perm()
		switch {
		case !neg && got != os.FileMode(want):
			ts.Fatalf("%s: mode %#o, want %#o", name, got, want)
		case neg && got == os.FileMode(want):
			ts.Fatalf("%s: mode %#o, want another", name, got)
		}
	}
}

// glob returns the files that match pattern, relative to the script's
// current folder; it fails the script when there are none.
func glob(ts *testscript.TestScript, pattern string) []string {
	matches, err := filepath.Glob(ts.MkAbs(pattern))
	ts.Check(err)
	if len(matches) == 0 {
		ts.Fatalf("no file matches %s", pattern)
	}
	for i, m := range matches {
		rel, err := filepath.Rel(ts.MkAbs("."), m)
		ts.Check(err)
		matches[i] = filepath.ToSlash(rel)
	}
	return matches
}

func cmdGlob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: glob PATTERN...")
	}
	for _, pattern := range args {
		if neg {
			matches, err := filepath.Glob(ts.MkAbs(pattern))
			ts.Check(err)
			if len(matches) > 0 {
				ts.Fatalf("%s matches %q, want nothing", pattern, matches)
			}
			continue
		}
		for _, m := range glob(ts, pattern) {
			fmt.Fprintln(ts.Stdout(), m)
		}
	}
}

func cmdCat(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! cat")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: cat PATTERN...")
	}
	for _, pattern := range args {
		for _, m := range glob(ts, pattern) {
			b, err := os.ReadFile(ts.MkAbs(m))
			ts.Check(err)
			_, err = ts.Stdout().Write(b)
			ts.Check(err)
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(ts *testscript.TestScript) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpget URL")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(args[0])
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%d %s", resp.StatusCode, body)
}

func cmdHTTPWait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: httpwait URL CODE")
	}
	c := &http.Client{Timeout: 2 * time.Second}
	last := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := c.Get(args[0])
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if last = strconv.Itoa(resp.StatusCode); last == args[1] {
			return
		}
	}
	ts.Fatalf("httpwait: %s answered %s, not %s, for 10 s", args[0], last, args[1])
}
