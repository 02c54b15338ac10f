package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: any file either loads into a Config that validates, or gives
// Problems that name the file; it never panics.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed files in testdata (%v)", err)
	}
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a {b: *a}\ntenants: [*a]\n"))
	f.Add([]byte("tenants:\n  - &t {id: abc, datasets: [rom], organisations: [\"94012345\"]}\n  - <<: *t\n    id: abd\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := load(data, "fuzz.yaml")
		if err == nil {
			if probs := c.Validate(); len(probs) > 0 {
				t.Fatalf("loaded a config that does not validate: %v", probs)
			}
			return
		}
		var probs Problems
		if !errors.As(err, &probs) {
			t.Fatalf("got error of type %T, want Problems: %v", err, err)
		}
		if len(probs) == 0 {
			t.Fatal("got no Problems as an error")
		}
		for _, p := range probs {
			if p.File != "fuzz.yaml" || p.Msg == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
		}
	})
}

// FuzzParseByteSize: a size that parses prints as a string that parses
// back to it.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"0", "1024", "20GiB", "10MB", "8388607TiB", "-1", "20 GB?", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("ParseByteSize(%q) = %d", s, b)
		}
		back, err := ParseByteSize(b.String())
		if err != nil || back != b {
			t.Fatalf("ParseByteSize(%q) = %d; String %q parses to %d, %v", s, b, b.String(), back, err)
		}
	})
}
