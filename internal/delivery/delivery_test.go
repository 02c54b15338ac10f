package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/internal/store"
)

func TestValidateName(t *testing.T) {
	ok := []string{"a.age", "rom-2026h1.csv.age", "X_1.GPG", "report.pgp", "data.asc", "a.b.c.age",
		strings.Repeat("a", 124) + ".age"}
	bad := []string{"", ".age", ".hidden.age", "x.csv", "x.age.txt", "bad name.age", "a/b.age", "a\\b.age",
		"a\x00.age", "é.age", "x.age/", "..age", strings.Repeat("a", 125) + ".age", "age"}
	for _, n := range ok {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateName(n); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidateName(%q) = %v, want ErrBadName", n, err)
		}
	}
}

func TestIDs(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 15, 0, 123e6, time.UTC)
	id := NewID(at)
	if !strings.HasPrefix(id, "20261123T101500.123Z-") || len(id) != 29 || !ValidID(id) {
		t.Errorf("NewID = %q, want 20261123T101500.123Z-<8 hex> and valid", id)
	}
	if later := NewID(at.Add(time.Millisecond)); later <= id {
		t.Errorf("a later id %q does not sort after %q", later, id)
	}
	for _, bad := range []string{"", "x", "20261123T101500.123Z-3f9a1c2", "20261323T101500.123Z-3f9a1c2e", "20261123T101500.123Z-3f9a1c2g", "20261123T101500.123Z_3f9a1c2e"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func newStore(t *testing.T) *store.Local {
	st, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func keys(t *testing.T, st store.Store) []string {
	var out []string
	for info, err := range st.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

var ageHead = []byte("age-encryption.org/v1\n-> X25519 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU\n")

func TestCommit(t *testing.T) {
	st := newStore(t)
	data := append(append([]byte{}, ageHead...), bytes.Repeat([]byte{7}, 100_000)...)
	m, err := Commit(context.Background(), st, Upload{Tenant: "acme", Channel: ChannelCLI, FileName: "x.csv.age"}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(data)) || m.Format != "age" || m.FileName != "x.csv.age" {
		t.Errorf("meta = %+v", m)
	}
	got, err := ReadMeta(context.Background(), st, MetaKey("acme", m.ID))
	if err != nil || got != m {
		t.Errorf("ReadMeta = %+v, %v; want %+v", got, err, m)
	}
	stored, _ := store.ReadAll(context.Background(), st, DataKey("acme", m.ID), 1<<20)
	if !bytes.Equal(stored, data) {
		t.Error("stored data differs from the upload")
	}
	list, err := List(context.Background(), st)
	if err != nil || len(list) != 1 || list[0] != m {
		t.Errorf("List = %v, %v", list, err)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), f.n)
	copy(p, bytes.Repeat([]byte{1}, n))
	f.n -= n
	return n, nil
}

// Every refusal and failure leaves nothing in the store.
func TestCommitRefusalsLeaveNothing(t *testing.T) {
	big := append(append([]byte{}, ageHead...), make([]byte, 2000)...)
	tests := []struct {
		name string
		u    Upload
		r    io.Reader
		want error
	}{
		{"bad name", Upload{FileName: "x.csv"}, bytes.NewReader(big), ErrBadName},
		{"empty", Upload{FileName: "x.age"}, bytes.NewReader(nil), ErrEmpty},
		{"plaintext", Upload{FileName: "x.age"}, strings.NewReader("bsn,client_id\n111222333,C1\n"), ErrNotEncrypted},
		{"one byte", Upload{FileName: "x.age"}, bytes.NewReader([]byte{'a'}), ErrNotEncrypted},
		{"too large", Upload{FileName: "x.age", MaxSize: 1000}, bytes.NewReader(big), ErrTooLarge},
		{"reader fails midway", Upload{FileName: "x.age"}, io.MultiReader(bytes.NewReader(ageHead), &failingReader{n: 5000}), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t)
			tt.u.Tenant = "acme"
			_, err := Commit(context.Background(), st, tt.u, tt.r)
			if !errors.Is(err, tt.want) {
				t.Errorf("Commit = %v, want %v", err, tt.want)
			}
			if k := keys(t, st); len(k) != 0 {
				t.Errorf("store holds %v after a refused upload", k)
			}
		})
	}
}

// A staged upload is no delivery until Commit; Discard removes it.
func TestStagePendingDiscard(t *testing.T) {
	st := newStore(t)
	p, err := Stage(context.Background(), st, Upload{Tenant: "acme", FileName: "x.age"}, bytes.NewReader(ageHead))
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := List(context.Background(), st); len(list) != 0 {
		t.Errorf("a staged upload is listed as a delivery: %v", list)
	}
	if err := p.Discard(context.Background()); err != nil {
		t.Fatal(err)
	}
	if k := keys(t, st); len(k) != 0 {
		t.Errorf("store holds %v after Discard", k)
	}
	p, _ = Stage(context.Background(), st, Upload{Tenant: "acme", FileName: "x.age"}, bytes.NewReader(ageHead))
	m, err := p.Commit(context.Background(), "final.age")
	if err != nil || m.FileName != "final.age" {
		t.Fatalf("Commit = %+v, %v", m, err)
	}
	if list, _ := List(context.Background(), st); len(list) != 1 || list[0].FileName != "final.age" {
		t.Errorf("List = %v, want the delivery named final.age", list)
	}
	// A final name that breaks the rule is refused and the data removed.
	p, _ = Stage(context.Background(), st, Upload{Tenant: "acme", FileName: "y.age"}, bytes.NewReader(ageHead))
	if _, err := p.Commit(context.Background(), "y.csv"); !errors.Is(err, ErrBadName) {
		t.Errorf("Commit(y.csv) = %v, want ErrBadName", err)
	}
	if k := keys(t, st); len(k) != 2 {
		t.Errorf("store holds %v, want only the committed delivery's two objects", k)
	}
}
