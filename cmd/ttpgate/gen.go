package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/synth"
)

func cmdGen(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "rom" && args[0] != "lvr1") {
		fmt.Fprintln(stderr, "usage: ttpgate gen rom|lvr1 --rows N --seed S [--dialect D] [-o FILE]")
		return errUsage
	}
	dataset := args[0]
	fs := newFlags("gen "+dataset, stderr)
	rows := fs.Int("rows", 1000, "number of data rows")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same file")
	dialect := fs.String("dialect", "standard", fmt.Sprintf("CSV dialect, one of %v", synth.Dialects()))
	out := fs.String("o", "", "output file (default: standard output)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *rows < 0 {
		fmt.Fprintln(stderr, "ttpgate gen: --rows must not be negative")
		return errUsage
	}
	known := false
	for _, d := range synth.Dialects() {
		known = known || string(d) == *dialect
	}
	if !known {
		fmt.Fprintf(stderr, "ttpgate gen: unknown dialect %q; one of %v\n", *dialect, synth.Dialects())
		return errUsage
	}
	w := stdout
	var f *os.File
	if *out != "" {
		var err error
		f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	o := synth.Options{Rows: *rows, Seed: *seed, Dialect: synth.Dialect(*dialect)}
	var err error
	if dataset == "rom" {
		err = synth.WriteROM(bw, o)
	} else {
		err = synth.WriteLVR1(bw, o)
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f != nil {
		return f.Close()
	}
	return nil
}

func cmdKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", stderr)
	out := fs.String("out", "", "folder for the keys (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "usage: ttpgate keygen --out DIR")
		return errUsage
	}
	created, err := crypto.GenerateKeys(*out)
	if err != nil {
		return err
	}
	if len(created) == 0 {
		fmt.Fprintf(stdout, "%s: every key exists already; nothing created\n", *out)
		return nil
	}
	for _, name := range created {
		fmt.Fprintf(stdout, "created %s\n", name)
	}
	if b, err := os.ReadFile(filepath.Join(*out, "recipient.txt")); err == nil {
		fmt.Fprintf(stdout, "senders encrypt to: %s", b)
	}
	if pub := filepath.Join(*out, "openpgp.pub.asc"); fileExists(pub) {
		fmt.Fprintf(stdout, "senders with GnuPG: gpg --encrypt --recipient-file %s FILE\n", pub)
	}
	return nil
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}
