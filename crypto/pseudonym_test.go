package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// testMasterKey is 00 01 02 … 1f.
func testMasterKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

func newTestPseudonymizer(t testing.TB) *Pseudonymizer {
	t.Helper()
	p, err := NewPseudonymizer(testMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPseudonymKnownAnswer computes the expected pseudonym step by step from
// the definitions, without the code under test: HKDF (RFC 5869) written out
// with HMAC, then HMAC-SHA256, truncation and base32. The literal pins the
// value, so a change of scheme cannot pass unnoticed: pseudonyms already
// staged would no longer link up. (The pinned values were also computed
// with Python's hmac and hashlib.)
func TestPseudonymKnownAnswer(t *testing.T) {
	hmacSHA256 := func(key []byte, msg ...[]byte) []byte {
		m := hmac.New(sha256.New, key)
		for _, b := range msg {
			m.Write(b)
		}
		return m.Sum(nil)
	}
	// HKDF-Extract with no salt: a salt of HashLen zeros.
	prk := hmacSHA256(make([]byte, sha256.Size), testMasterKey())
	// HKDF-Expand to 32 bytes, one block: T(1) = HMAC(PRK, info || 0x01).
	domainKey := hmacSHA256(prk, []byte("ttpgate pseudonym v1 rom"), []byte{0x01})
	// The message: kind, then each part after a NUL.
	sum := hmacSHA256(domainKey, []byte("bsn"), []byte{0}, []byte("111222333"))
	enc := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:16]))
	want := "v1-" + strings.TrimRight(enc, "=")

	if pinned := "v1-uhmkxmsqj56zdyw6kmdmdpqvhy"; want != pinned {
		t.Fatalf("step-by-step computation gives %s, pinned value is %s", want, pinned)
	}
	got := newTestPseudonymizer(t).Pseudonym("rom", "bsn", "111222333")
	if got != want {
		t.Errorf("Pseudonym(rom, bsn, 111222333) = %s, want %s", got, want)
	}
	if len(got) != 3+26 {
		t.Errorf("pseudonym %s has %d characters, want 29", got, len(got))
	}

	// Two parts.
	sum = hmacSHA256(domainKey, []byte("client"), []byte{0}, []byte("12345678"), []byte{0}, []byte("C-001"))
	want = "v1-" + strings.TrimRight(strings.ToLower(base32.StdEncoding.EncodeToString(sum[:16])), "=")
	if pinned := "v1-mryiito3zsuy3ar7fvr2wlxwwu"; want != pinned {
		t.Fatalf("step-by-step computation gives %s, pinned value is %s", want, pinned)
	}
	if got := newTestPseudonymizer(t).Pseudonym("rom", "client", "12345678", "C-001"); got != want {
		t.Errorf("Pseudonym(rom, client, 12345678, C-001) = %s, want %s", got, want)
	}
}

func TestPseudonymSeparation(t *testing.T) {
	p := newTestPseudonymizer(t)
	other, err := NewPseudonymizer(bytes.Repeat([]byte{0xaa}, 32))
	if err != nil {
		t.Fatal(err)
	}
	base := p.Pseudonym("rom", "bsn", "111222333")
	if again := p.Pseudonym("rom", "bsn", "111222333"); again != base {
		t.Fatalf("not stable: %s then %s", base, again)
	}
	differ := map[string]string{
		"other domain":         p.Pseudonym("lvr1", "bsn", "111222333"),
		"other kind":           p.Pseudonym("rom", "client", "111222333"),
		"other key":            other.Pseudonym("rom", "bsn", "111222333"),
		"other value":          p.Pseudonym("rom", "bsn", "123456782"),
		"extra empty part":     p.Pseudonym("rom", "bsn", "111222333", ""),
		"no part":              p.Pseudonym("rom", "bsn"),
		"kind in part":         p.Pseudonym("rom", "", "bsn", "111222333"),
		"domain prefix (ro+m)": p.Pseudonym("ro", "mbsn", "111222333"),
	}
	for name, got := range differ {
		if got == base {
			t.Errorf("%s: same pseudonym %s", name, got)
		}
	}
	if a, b := p.Pseudonym("rom", "client", "ab", "c"), p.Pseudonym("rom", "client", "a", "bc"); a == b {
		t.Errorf(`("ab", "c") and ("a", "bc") give the same pseudonym %s`, a)
	}
	if a, b := p.Pseudonym("rom", "client", "12345678", "7"), p.Pseudonym("rom", "client", "87654321", "7"); a == b {
		t.Errorf("the same client number of two organisations gives the same pseudonym %s", a)
	}
	for _, ps := range differ {
		if !strings.HasPrefix(ps, "v1-") || strings.ToLower(ps) != ps || strings.Contains(ps, "=") {
			t.Errorf("pseudonym %q is not v1- and lower-case unpadded base32", ps)
		}
	}
}

func TestPseudonymNUL(t *testing.T) {
	p := newTestPseudonymizer(t)
	for name, f := range map[string]func(){
		"part": func() { p.Pseudonym("rom", "client", "a\x00b") },
		"kind": func() { p.Pseudonym("rom", "cli\x00ent", "ab") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NUL in %s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestPseudonymConcurrent(t *testing.T) {
	p := newTestPseudonymizer(t)
	want := map[string]string{}
	for _, d := range []string{"rom", "lvr1", "x"} {
		want[d] = newTestPseudonymizer(t).Pseudonym(d, "bsn", "111222333")
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 100 {
				d := []string{"rom", "lvr1", "x"}[(i+j)%3]
				if got := p.Pseudonym(d, "bsn", "111222333"); got != want[d] {
					t.Errorf("domain %s: got %s, want %s", d, got, want[d])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewPseudonymizerKeySize(t *testing.T) {
	for _, n := range []int{0, 1, 16, 31} {
		if _, err := NewPseudonymizer(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
	for _, n := range []int{32, 64} {
		if _, err := NewPseudonymizer(make([]byte, n)); err != nil {
			t.Errorf("%d-byte key: %v", n, err)
		}
	}
	// The Pseudonymizer keeps a copy: changing the caller's slice changes
	// nothing.
	key := testMasterKey()
	p, err := NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	before := p.Pseudonym("rom", "bsn", "111222333")
	clear(key)
	if after := p.Pseudonym("rom", "bsn", "111222333"); after != before {
		t.Error("clearing the caller's key changed the pseudonyms")
	}
}

func TestLoadPseudonymKey(t *testing.T) {
	dir := t.TempDir()
	keyHex := hex.EncodeToString(testMasterKey())
	tests := []struct {
		name    string
		perm    os.FileMode
		data    string
		wantErr string
	}{
		{"with line end", 0o600, keyHex + "\n", ""},
		{"without line end", 0o600, keyHex, ""},
		{"CRLF", 0o600, keyHex + "\r\n", ""},
		{"upper case", 0o400, strings.ToUpper(keyHex) + "\n", ""},
		{"group readable", 0o640, keyHex + "\n", "UNPROTECTED"},
		{"short", 0o600, keyHex[:62] + "\n", "64 hexadecimal"},
		{"long", 0o600, keyHex + "00\n", "64 hexadecimal"},
		{"two line ends", 0o600, keyHex + "\n\n", "64 hexadecimal"},
		{"not hex", 0o600, "zz" + keyHex[2:] + "\n", "not hexadecimal"},
		{"empty", 0o600, "", "64 hexadecimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "-"), tt.perm, []byte(tt.data))
			key, err := LoadPseudonymKey(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(key, testMasterKey()) {
					t.Errorf("got key %x", key)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s and %q", err, path, tt.wantErr)
			}
			if strings.Contains(strings.ToLower(err.Error()), keyHex[10:30]) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
}

// The key must never reach a log or a message, however the Pseudonymizer is
// printed.
func TestPseudonymizerRedacted(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, 32) // 'Z'
	p, err := NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	p.Pseudonym("rom", "bsn", "111222333") // derive a domain key too
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("start", "pseudonymizer", p, "value", *p)
	log.Info("start", slog.Any("p", p))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		fmt.Fprintf(&buf, verb+"\n", p)
		fmt.Fprintf(&buf, verb+"\n", *p)
	}
	fmt.Fprintln(&buf, p, *p, []*Pseudonymizer{p}, struct{ P *Pseudonymizer }{p})
	out := buf.String()
	for _, leak := range []string{"ZZZZ", "5a5a5a5a", "5A5A5A5A", "90 90 90 90", "90, 90, 90", "0x5a"} {
		if strings.Contains(out, leak) {
			t.Errorf("output contains the key (%s):\n%s", leak, out)
		}
	}
	if !strings.Contains(out, `"pseudonymizer":"REDACTED"`) {
		t.Errorf("slog output lacks REDACTED:\n%s", out)
	}
	if got := p.String(); got != "REDACTED" {
		t.Errorf("String() = %q", got)
	}
	if got := p.LogValue().String(); got != "REDACTED" {
		t.Errorf("LogValue() = %q", got)
	}
}

func BenchmarkPseudonym(b *testing.B) {
	p := newTestPseudonymizer(b)
	for b.Loop() {
		p.Pseudonym("rom", "client", "12345678", "C-000123")
	}
}
