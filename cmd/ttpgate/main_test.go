package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
