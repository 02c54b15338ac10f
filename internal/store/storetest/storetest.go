// Package storetest is the conformance suite of the store contract. Every
// backend runs it from its own test:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newEmptyStore(t) })
//	}
//
// Each subtest asks newStore for a fresh, empty store, so a failure points
// at one clause of the contract written on [store.Store].
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/internal/store"
)

// Run runs the conformance suite against stores made by newStore, which must
// return an empty store of its own and clean it up with t.Cleanup. The
// subtests run in parallel, so newStore must be safe to call concurrently;
// only Streaming, which counts the bytes the program allocates, runs alone
// (first, before the parallel subtests start).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Streaming", func(t *testing.T) { testStreaming(t, newStore(t)) })
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"FailingReader", testFailingReader},
		{"Cancelled", testCancelled},
		{"CancelledMidway", testCancelledMidway},
		{"Create", testCreate},
		{"CreateFailingReader", testCreateFailingReader},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentPut", testConcurrentPut},
		{"Replace", testReplace},
		{"ConcurrentReplace", testConcurrentReplace},
		{"Absent", testAbsent},
		{"FolderIsNotObject", testFolderIsNotObject},
		{"Stat", testStat},
		{"ListOrder", testListOrder},
		{"ListStop", testListStop},
		{"InProgressInvisible", testInProgressInvisible},
		{"Delete", testDelete},
		{"HostileKeys", testHostileKeys},
		{"UnicodeKeys", testUnicodeKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// randomBytes returns n bytes that differ per seed.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8(seedOf(seed)).Read(b)
	return b
}

func seedOf(n uint64) (seed [32]byte) {
	for i := range 8 {
		seed[i] = byte(n >> (8 * i))
	}
	return seed
}

func put(t *testing.T, s store.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

// wantContent fails unless key holds want.
func wantContent(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	got := get(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			key, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

// wantAbsent fails unless Get and Stat of key report ErrNotExist.
func wantAbsent(t *testing.T, s store.Store, key string) {
	t.Helper()
	if rc, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotExist) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get(%q) error = %v, want ErrNotExist", key, err)
	}
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("Stat(%q) error = %v, want ErrNotExist", key, err)
	}
}

// list returns the keys List yields for prefix, failing on any error.
func list(t *testing.T, s store.Store, prefix string) []string {
	t.Helper()
	keys := []string{}
	for info, err := range s.List(t.Context(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func wantList(t *testing.T, s store.Store, prefix string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := list(t, s, prefix); !slices.Equal(got, want) {
		t.Errorf("List(%q) = %q, want %q", prefix, got, want)
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	for _, n := range []int{0, 1, 5 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			key := fmt.Sprintf("round/trip/%d", n)
			data := randomBytes(uint64(n), n)
			put(t, s, key, data)
			rc, err := s.Get(t.Context(), key)
			if err != nil {
				t.Fatalf("Get(%q): %v", key, err)
			}
			defer rc.Close()
			h := sha256.New()
			got, err := io.Copy(h, rc)
			if err != nil {
				t.Fatalf("Get(%q): read: %v", key, err)
			}
			if want := sha256.Sum256(data); got != int64(n) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("Get(%q) = %d bytes (sha256 %x), want %d bytes (sha256 %x)", key, got, h.Sum(nil), n, want)
			}
		})
	}
}

func testOverwrite(t *testing.T, s store.Store) {
	put(t, s, "k", []byte("first, the longer content"))
	put(t, s, "k", []byte("second"))
	wantContent(t, s, "k", []byte("second"))
	wantList(t, s, "", "k")
}

// failingReader yields n bytes and then fails with errReader.
type failingReader struct{ n int }

var errReader = errors.New("storetest: reader broke")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errReader
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

func testFailingReader(t *testing.T, s store.Store) {
	old := []byte("old content")
	put(t, s, "dir/k", old)
	if err := s.Put(t.Context(), "dir/k", &failingReader{n: 200 << 10}); err == nil {
		t.Fatal("Put from a failing reader: got nil error, want one")
	}
	wantContent(t, s, "dir/k", old)
	if err := s.Put(t.Context(), "dir/new", &failingReader{n: 200 << 10}); err == nil {
		t.Fatal("Put from a failing reader: got nil error, want one")
	}
	wantAbsent(t, s, "dir/new")
	wantList(t, s, "", "dir/k")
}

func testCancelled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Put(ctx, "k", bytes.NewReader([]byte("data")))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: error = %v, want context.Canceled", err)
	}
	err = s.Create(ctx, "k", bytes.NewReader([]byte("data")))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a cancelled context: error = %v, want context.Canceled", err)
	}
	wantAbsent(t, s, "k")
	wantList(t, s, "")
}

// cancellingReader yields data and ends the context after the first read,
// yet goes on supplying data.
type cancellingReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.cancel()
	return n, err
}

func testCancelledMidway(t *testing.T, s store.Store) {
	old := []byte("old content")
	put(t, s, "k", old)
	for _, op := range []string{"Put", "Create"} {
		t.Run(op, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := &cancellingReader{r: bytes.NewReader(randomBytes(1, 1<<20)), cancel: cancel}
			var err error
			if op == "Put" {
				err = s.Put(ctx, "k", r)
			} else {
				err = s.Create(ctx, "new", r)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s cancelled midway: error = %v, want context.Canceled", op, err)
			}
		})
	}
	wantContent(t, s, "k", old)
	wantAbsent(t, s, "new")
	wantList(t, s, "", "k")
}

func testCreate(t *testing.T, s store.Store) {
	first := []byte("first")
	if err := s.Create(t.Context(), "c/k", bytes.NewReader(first)); err != nil {
		t.Fatalf("Create of an absent key: %v", err)
	}
	wantContent(t, s, "c/k", first)
	err := s.Create(t.Context(), "c/k", bytes.NewReader([]byte("second")))
	if !errors.Is(err, store.ErrExist) {
		t.Fatalf("Create of a present key: error = %v, want ErrExist", err)
	}
	wantContent(t, s, "c/k", first)
	wantList(t, s, "", "c/k")
}

func testCreateFailingReader(t *testing.T, s store.Store) {
	if err := s.Create(t.Context(), "k", &failingReader{n: 100 << 10}); err == nil {
		t.Fatal("Create from a failing reader: got nil error, want one")
	}
	wantAbsent(t, s, "k")
	wantList(t, s, "")
	// The failure must not leave the key claimed.
	if err := s.Create(t.Context(), "k", strings.NewReader("ok")); err != nil {
		t.Fatalf("Create after a failed Create: %v", err)
	}
	wantContent(t, s, "k", []byte("ok"))
}

func testConcurrentCreate(t *testing.T, s store.Store) {
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Create(t.Context(), "ledger/claim", bytes.NewReader(randomBytes(uint64(i), 32<<10)))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("Creates %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrExist):
			t.Errorf("Create %d: error = %v, want nil or ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Create succeeded")
	}
	wantContent(t, s, "ledger/claim", randomBytes(uint64(winner), 32<<10))
	wantList(t, s, "", "ledger/claim")
}

func testConcurrentPut(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.Put(t.Context(), "k", bytes.NewReader(randomBytes(uint64(i), 64<<10))); err != nil {
				t.Errorf("Put %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := get(t, s, "k")
	for i := range n {
		if bytes.Equal(got, randomBytes(uint64(i), 64<<10)) {
			wantList(t, s, "", "k")
			return
		}
	}
	t.Fatalf("after concurrent Puts, Get = %d bytes that no Put wrote", len(got))
}

func stat(t *testing.T, s store.Store, key string) store.Info {
	t.Helper()
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%s): %v", key, err)
	}
	if info.ETag == "" {
		t.Fatalf("Stat(%s): empty ETag", key)
	}
	return info
}

func testReplace(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, "r/k", []byte("one"))
	v1 := stat(t, s, "r/k")
	if err := s.Replace(ctx, "r/k", strings.NewReader("two"), v1.ETag); err != nil {
		t.Fatalf("Replace with the current ETag: %v", err)
	}
	wantContent(t, s, "r/k", []byte("two"))
	v2 := stat(t, s, "r/k")
	if v2.ETag == v1.ETag {
		t.Fatalf("ETag %q did not change with the content", v2.ETag)
	}
	// List reports the same ETag as Stat.
	for info, err := range s.List(ctx, "r/") {
		if err != nil || info.ETag != v2.ETag {
			t.Errorf("List: %+v, %v; want ETag %q", info, err, v2.ETag)
		}
	}
	// A stale ETag, an absent key, an empty ETag: ErrChanged, nothing stored.
	if err := s.Replace(ctx, "r/k", strings.NewReader("three"), v1.ETag); !errors.Is(err, store.ErrChanged) {
		t.Errorf("Replace with a stale ETag: %v, want ErrChanged", err)
	}
	wantContent(t, s, "r/k", []byte("two"))
	if err := s.Replace(ctx, "r/absent", strings.NewReader("x"), v2.ETag); !errors.Is(err, store.ErrChanged) {
		t.Errorf("Replace of an absent key: %v, want ErrChanged", err)
	}
	wantAbsent(t, s, "r/absent")
	if err := s.Replace(ctx, "r/k", strings.NewReader("x"), ""); !errors.Is(err, store.ErrChanged) {
		t.Errorf("Replace with an empty ETag: %v, want ErrChanged", err)
	}
	// Deleted and created again: the old ETag no longer matches.
	if err := s.Delete(ctx, "r/k"); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, "r/k", strings.NewReader("x"), v2.ETag); !errors.Is(err, store.ErrChanged) {
		t.Errorf("Replace of a deleted key: %v, want ErrChanged", err)
	}
	wantAbsent(t, s, "r/k")
	if err := s.Create(ctx, "r/k", strings.NewReader("four")); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, "r/k", strings.NewReader("x"), v2.ETag); !errors.Is(err, store.ErrChanged) {
		t.Errorf("Replace of a re-created key: %v, want ErrChanged", err)
	}
	wantContent(t, s, "r/k", []byte("four"))
	// A failing reader replaces nothing.
	v4 := stat(t, s, "r/k")
	if err := s.Replace(ctx, "r/k", &failingReader{n: 1000}, v4.ETag); err == nil {
		t.Error("Replace with a failing reader succeeded")
	}
	wantContent(t, s, "r/k", []byte("four"))
	if err := s.Replace(ctx, "../x", strings.NewReader("x"), v4.ETag); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Replace(../x): %v, want ErrInvalidKey", err)
	}
}

// testConcurrentReplace: of many Replaces of one version, exactly one wins,
// and the object holds the winner's bytes.
func testConcurrentReplace(t *testing.T, s store.Store) {
	put(t, s, "cas", []byte("start"))
	v := stat(t, s, "cas")
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Replace(t.Context(), "cas", bytes.NewReader(fmt.Appendf(nil, "writer %d", i)), v.ETag)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both replaced version %q", winner, i, v.ETag)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrChanged):
			t.Errorf("writer %d: %v, want nil or ErrChanged", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Replace succeeded")
	}
	wantContent(t, s, "cas", fmt.Appendf(nil, "writer %d", winner))
}

func testAbsent(t *testing.T, s store.Store) {
	wantAbsent(t, s, "absent")
	wantAbsent(t, s, "absent/deeper/still")
	put(t, s, "file", []byte("x"))
	wantAbsent(t, s, "file/under/an/object")
}

func testFolderIsNotObject(t *testing.T, s store.Store) {
	put(t, s, "a/b/c", []byte("x"))
	wantAbsent(t, s, "a")
	wantAbsent(t, s, "a/b")
	if err := s.Delete(t.Context(), "a/b"); err != nil {
		t.Errorf("Delete of a folder: %v, want nil", err)
	}
	wantContent(t, s, "a/b/c", []byte("x"))
}

func testStat(t *testing.T, s store.Store) {
	before := time.Now().Add(-time.Minute)
	data := randomBytes(7, 12345)
	put(t, s, "s/k", data)
	info, err := s.Stat(t.Context(), "s/k")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != "s/k" || info.Size != int64(len(data)) {
		t.Errorf("Stat = {Key %q, Size %d}, want {Key %q, Size %d}", info.Key, info.Size, "s/k", len(data))
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("Stat ModTime = %v, want about now", info.ModTime)
	}
	for info, err := range s.List(t.Context(), "s/") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if info.Key != "s/k" || info.Size != int64(len(data)) || info.ModTime.IsZero() {
			t.Errorf("List yields {Key %q, Size %d, ModTime %v}, want {Key %q, Size %d, ModTime set}",
				info.Key, info.Size, info.ModTime, "s/k", len(data))
		}
	}
}

func testListOrder(t *testing.T, s store.Store) {
	// In byte order '-' < '.' < '/' < '0': a folder's keys sort between
	// siblings that share its name, so a backend cannot list a folder's
	// entries by name alone. ("a/b" itself cannot also be an object while
	// "a/b/c" is: see store.Store.)
	keys := []string{
		"b", "ab", "a0", "a/b0", "a/b/d/e", "a/b/c", "a/b.c", "a/b-c", "a.b", "a-b", "ünï/cødé",
	}
	for i, k := range keys {
		put(t, s, k, []byte(k+fmt.Sprint(i)))
	}
	sorted := slices.Sorted(slices.Values(keys))
	for _, prefix := range []string{
		"", "a", "a/", "a/b", "a/b/", "a/b/c", "a/b/c/", "a/b/d", "a-", "a.", "ab", "b", "ü", "nomatch", "z",
	} {
		var want []string
		for _, k := range sorted {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		wantList(t, s, prefix, want...)
	}
	wantList(t, s, "a", "a-b", "a.b", "a/b-c", "a/b.c", "a/b/c", "a/b/d/e", "a/b0", "a0", "ab")
}

func testListStop(t *testing.T, s store.Store) {
	for _, k := range []string{"x/1", "x/2", "y/3"} {
		put(t, s, k, nil)
	}
	var got []string
	for info, err := range s.List(t.Context(), "") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got = append(got, info.Key)
		if len(got) == 2 {
			break
		}
	}
	if want := []string{"x/1", "x/2"}; !slices.Equal(got, want) {
		t.Errorf("List stopped after two = %q, want %q", got, want)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var sawErr bool
	for _, err := range s.List(ctx, "") {
		if err != nil {
			sawErr = true
			if !errors.Is(err, context.Canceled) {
				t.Errorf("List with a cancelled context: error = %v, want context.Canceled", err)
			}
			break
		}
	}
	if !sawErr {
		t.Error("List with a cancelled context yielded no error")
	}
}

func testInProgressInvisible(t *testing.T, s store.Store) {
	old := []byte("old")
	put(t, s, "up/old", old)
	for _, key := range []string{"up/new", "up/old"} {
		t.Run(key, func(t *testing.T) {
			before := list(t, s, "")
			pr, pw := io.Pipe()
			defer pw.CloseWithError(errors.New("test ended early"))
			done := make(chan error, 1)
			go func() { done <- s.Put(t.Context(), key, pr) }()
			// A write to a pipe returns when the reader took it: Put is
			// under way, with part of the object in hand.
			if _, err := pw.Write(randomBytes(3, 100<<10)); err != nil {
				t.Fatal(err)
			}
			wantList(t, s, "", before...)
			wantContent(t, s, "up/old", old)
			if key == "up/new" {
				wantAbsent(t, s, "up/new")
			}
			pw.Close()
			if err := <-done; err != nil {
				t.Fatalf("Put: %v", err)
			}
			wantContent(t, s, key, randomBytes(3, 100<<10))
			if key == "up/new" {
				wantList(t, s, "", "up/new", "up/old")
			}
		})
	}
}

func testDelete(t *testing.T, s store.Store) {
	if err := s.Delete(t.Context(), "absent"); err != nil {
		t.Errorf("Delete of an absent key: %v, want nil", err)
	}
	if err := s.Delete(t.Context(), "absent/deeper"); err != nil {
		t.Errorf("Delete of an absent key: %v, want nil", err)
	}
	put(t, s, "d/e/f", []byte("x"))
	put(t, s, "d/g", []byte("y"))
	if err := s.Delete(t.Context(), "d/e/f"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantAbsent(t, s, "d/e/f")
	wantList(t, s, "", "d/g")
	if err := s.Delete(t.Context(), "d/e/f"); err != nil {
		t.Errorf("second Delete: %v, want nil", err)
	}
	// The folder a Delete emptied can be filled again, under either name.
	put(t, s, "d/e/f", []byte("again"))
	wantContent(t, s, "d/e/f", []byte("again"))
	if err := s.Delete(t.Context(), "d/e/f"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	put(t, s, "d/e", []byte("now an object"))
	wantList(t, s, "", "d/e", "d/g")
}

// hostileKeys are keys that ValidateKey refuses: escapes, absolute paths,
// ambiguous spellings, control characters, the reserved temporary folder.
var hostileKeys = []string{
	"",
	".",
	"..",
	"../x",
	"a/../../x",
	"a/..",
	"./a",
	"a/./b",
	"/abs",
	"/etc/passwd",
	"a//b",
	"a/",
	"a\\b",
	"..\\x",
	"a\x00b",
	"a/\n",
	"a\rb",
	"a\u0085b",
	"a\xffb",
	".tmp",
	".tmp/x",
	"a/.tmp/x",
	".TMP/x",
	".tmpfoo/x",
	strings.Repeat("k", 2000),
	strings.Repeat("s", 256) + "/x",
}

func testHostileKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, key := range hostileKeys {
		if err := s.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Create(ctx, key, strings.NewReader("x")); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Create(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if rc, err := s.Get(ctx, key); !errors.Is(err, store.ErrInvalidKey) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Stat(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	wantList(t, s, "")
	// A prefix is a plain string, not a key: a hostile one matches nothing.
	for _, prefix := range []string{"../", "/", ".tmp", ".tmp/", "\x00"} {
		wantList(t, s, prefix)
	}
}

func testUnicodeKeys(t *testing.T, s store.Store) {
	for _, key := range []string{"ünï/cødé", "日本/データ.csv", "emoji/🩺", "spaces in/a name", "a'b\"c/<d>|e:f*?", "replacement/\ufffd"} {
		if err := store.ValidateKey(key); err != nil {
			t.Fatalf("ValidateKey(%q): %v", key, err)
		}
		put(t, s, key, []byte(key))
		wantContent(t, s, key, []byte(key))
		wantList(t, s, key, key)
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete(%q): %v", key, err)
		}
		wantAbsent(t, s, key)
	}
	wantList(t, s, "")
}

// generator yields n pseudo-random bytes without holding them, hashing what
// it yields.
type generator struct {
	rand *rand.ChaCha8
	n    int64
	sum  hash.Hash
}

func newGenerator(seed uint64, n int64) *generator {
	return &generator{rand: rand.NewChaCha8(seedOf(seed)), n: n, sum: sha256.New()}
}

func (g *generator) Read(p []byte) (int, error) {
	if g.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n)]
	g.rand.Read(p)
	g.sum.Write(p)
	g.n -= int64(len(p))
	return len(p), nil
}

// allocated returns the bytes allocated so far by the program.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// testStreaming checks that Put and Get hold a bounded part of an object in
// memory, not the whole.
//
// The object is 64 MiB and the bound a third of that: a backend may hold
// one part of a multipart upload (the S3 store's parts are 5 to 16 MiB),
// and TLS allocates a little per record, but one that held the object (or
// allocated per byte) would pass the bound.
func testStreaming(t *testing.T, s store.Store) {
	const size = 64 << 20
	const bound = size / 3
	g := newGenerator(42, size)
	a := allocated()
	if err := s.Put(t.Context(), "big", g); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n := allocated() - a; n > bound {
		t.Errorf("Put of %d MiB allocated %d MiB, want under %d MiB", size>>20, n>>20, bound>>20)
	}
	want := g.sum.Sum(nil)

	a = allocated()
	rc, err := s.Get(t.Context(), "big")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := rc.Read(buf)
		h.Write(buf[:n])
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	if n := allocated() - a; n > bound {
		t.Errorf("Get and read of %d MiB allocated %d MiB, want under %d MiB", size>>20, n>>20, bound>>20)
	}
	if got := h.Sum(nil); total != size || !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes (sha256 %x), want %d bytes (sha256 %x)", total, got, size, want)
	}
}
