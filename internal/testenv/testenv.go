// Package testenv finds the real tools tests use (the age CLI, DuckDB) and
// decides what happens when one is missing: outside CI the test is skipped
// with a loud message, under CI (CI=true) it fails, so a green CI never
// hides a test that did not run.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// InCI reports whether the tests run under CI.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips or fails t because what is missing.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	msg := "MISSING " + what + ": install with `" + install + "`; see .ci/run"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Tool returns the path of an executable on PATH, or skips/fails t.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, install)
	}
	return p
}

// RepoRoot returns the root of the repository (where go.mod is).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// DuckDB returns the path of the node script that runs SQL with DuckDB
// (internal/duckdb/query.mjs), or skips/fails t when DuckDB is not installed.
func DuckDB(t testing.TB) string {
	t.Helper()
	Tool(t, "node", "apt-get install -y nodejs")
	dir := filepath.Join(RepoRoot(t), "internal", "duckdb")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err != nil {
		Missing(t, "DuckDB (@duckdb/node-api)", "npm install --prefix internal/duckdb")
	}
	return filepath.Join(dir, "query.mjs")
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers: tests give it
// to a logger and read back what was logged.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
