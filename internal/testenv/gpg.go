package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// GPG is a throwaway GnuPG home for one test, driven with the real gpg
// command, as a sender drives it: batch mode, keys without passphrases,
// every key trusted (--trust-model always).
type GPG struct {
	t    testing.TB
	Path string // the gpg executable
	Home string // its --homedir
}

// NewGPG returns a new, empty GnuPG home, or skips t (fails it under CI)
// when gpg is not installed. The home is removed when t ends, after the
// gpg-agent that gpg started for it is stopped.
func NewGPG(t testing.TB) *GPG {
	t.Helper()
	path := Tool(t, "gpg", "apt-get install -y gnupg")
	// Not t.TempDir(): gpg-agent's socket lives in the home, and a long
	// path (test names) exceeds what a Unix socket address may hold.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if gpgconf, err := exec.LookPath("gpgconf"); err == nil {
			exec.Command(gpgconf, "--homedir", home, "--kill", "all").Run()
		}
		os.RemoveAll(home)
	})
	return &GPG{t: t, Path: path, Home: home}
}

// Run runs gpg with args (after the options every call gets) and stdin,
// and returns its standard output; it fails t when gpg fails.
func (g *GPG) Run(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, err := g.RunErr(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// RunErr is Run returning the error, with gpg's standard error in it.
func (g *GPG) RunErr(stdin []byte, args ...string) ([]byte, error) {
	g.t.Helper()
	base := []string{"--homedir", g.Home, "--batch", "--no-tty", "--quiet", "--yes",
		"--pinentry-mode", "loopback", "--trust-model", "always", "--no-auto-key-locate"}
	cmd := exec.Command(g.Path, append(base, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &gpgError{err: err, stderr: stderr.String()}
	}
	return out, nil
}

type gpgError struct {
	err    error
	stderr string
}

func (e *gpgError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }

// GenKey makes a key without passphrase for uid: a primary key of algo for
// signing and certification and an encryption subkey (algo "rsa4096":
// RSA-4096 both; algo "ed25519": Ed25519 with a Curve25519 subkey, what
// gpg 2.2 calls future-default). It returns the fingerprint.
func (g *GPG) GenKey(uid, algo string) string {
	g.t.Helper()
	sub := algo
	if algo == "ed25519" {
		sub = "cv25519"
	}
	g.Run(nil, "--passphrase", "", "--quick-gen-key", uid, algo, "sign,cert", "never")
	fpr := g.Fingerprint(uid)
	g.Run(nil, "--passphrase", "", "--quick-add-key", fpr, sub, "encr", "never")
	return fpr
}

// Fingerprint returns the fingerprint of the primary key with user id uid.
func (g *GPG) Fingerprint(uid string) string {
	g.t.Helper()
	out := g.Run(nil, "--with-colons", "--list-keys", "="+uid)
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			return f[9]
		}
	}
	g.t.Fatalf("gpg: no key for %q", uid)
	return ""
}

// ExportSecret returns the armoured secret key of fpr, as
// `gpg --export-secret-keys --armor` writes it.
func (g *GPG) ExportSecret(fpr string) []byte {
	g.t.Helper()
	return g.Run(nil, "--passphrase", "", "--export-secret-keys", "--armor", fpr)
}

// GPGKeys are the armoured secret keys GPGRecipientKeys made.
type GPGKeys struct {
	RSA4096, Curve25519 []byte // one key each, exported with --export-secret-keys --armor
}

var (
	recipientOnce sync.Once
	recipientKeys GPGKeys
	recipientErr  string
)

// GPGRecipientKeys returns two recipient keys made by gpg, an RSA-4096 one
// and a Curve25519 one, made once per test binary (RSA-4096 takes seconds)
// in a home of t's that is removed when t ends. Import them where needed.
func GPGRecipientKeys(t testing.TB) GPGKeys {
	t.Helper()
	Tool(t, "gpg", "apt-get install -y gnupg")
	recipientOnce.Do(func() {
		g := NewGPG(t)
		rsa := g.GenKey("ttpgate test RSA-4096 <rsa@example.invalid>", "rsa4096")
		cv := g.GenKey("ttpgate test Curve25519 <cv25519@example.invalid>", "ed25519")
		recipientKeys = GPGKeys{RSA4096: g.ExportSecret(rsa), Curve25519: g.ExportSecret(cv)}
		if len(recipientKeys.RSA4096) == 0 || len(recipientKeys.Curve25519) == 0 {
			recipientErr = "gpg exported no secret key"
		}
	})
	if recipientErr != "" {
		t.Fatal(recipientErr)
	}
	if recipientKeys.RSA4096 == nil {
		t.Fatal("gpg recipient keys were not made (an earlier test failed making them)")
	}
	return recipientKeys
}
