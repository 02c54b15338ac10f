package store_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/store/storetest"
)

// newLocal opens a Local store in base/store and returns both folders.
func newLocal(t *testing.T) (l *store.Local, base, dir string) {
	t.Helper()
	base = t.TempDir()
	dir = filepath.Join(base, "store")
	l, err := store.NewLocal(dir)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, base, dir
}

// names returns the names in folder dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestLocalConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		l, base, dir := newLocal(t)
		// Whatever the subtest did, nothing lands beside the store and no
		// temporary file outlives the operation that made it.
		t.Cleanup(func() {
			if got := names(t, base); !slices.Equal(got, []string{"store"}) {
				t.Errorf("folder around the store holds %q, want only \"store\"", got)
			}
			if got := names(t, filepath.Join(dir, ".tmp")); len(got) > 0 {
				t.Errorf("temporary files left behind: %q", got)
			}
		})
		return l
	})
}

func TestLocalSymlinks(t *testing.T) {
	l, base, dir := newLocal(t)
	ctx := t.Context()
	outside := filepath.Join(base, "elsewhere")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"landed":  outside,                          // a folder, absolute
		"rel":     filepath.Join("..", "elsewhere"), // a folder, relative
		"evil":    secret,                           // a file, absolute
		"relfile": filepath.Join("..", "elsewhere", "secret"),
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}

	for _, key := range []string{"landed/secret", "rel/secret", "evil", "relfile"} {
		rc, err := l.Get(ctx, key)
		if err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("Get(%q) read %q through a symbolic link out of the store", key, b)
		} else {
			t.Logf("Get(%q): %v", key, err)
		}
		if info, err := l.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) = %+v through a symbolic link out of the store", key, info)
		}
	}
	for _, key := range []string{"landed/x", "rel/x", "landed/new/x"} {
		err := l.Put(ctx, key, strings.NewReader("planted"))
		if err == nil {
			t.Errorf("Put(%q) wrote through a symbolic link out of the store", key)
		} else {
			t.Logf("Put(%q): %v", key, err)
		}
		if err := l.Create(ctx, key, strings.NewReader("planted")); err == nil {
			t.Errorf("Create(%q) wrote through a symbolic link out of the store", key)
		}
	}
	if err := l.Delete(ctx, "landed/secret"); err == nil {
		t.Error("Delete(\"landed/secret\") went through a symbolic link out of the store")
	} else {
		t.Logf("Delete(%q): %v", "landed/secret", err)
	}

	var keys []string
	var errs []error
	for info, err := range l.List(ctx, "") {
		if err != nil {
			errs = append(errs, err)
			t.Logf("List: %v", err)
			continue
		}
		keys = append(keys, info.Key)
	}
	if len(keys) > 0 {
		t.Errorf("List yielded %q through symbolic links out of the store", keys)
	}
	if len(errs) != 4 {
		t.Errorf("List yielded %d errors, want 4, one per link out of the store", len(errs))
	}

	// Put replaces a link at the key itself; the target stays as it was.
	if err := l.Put(ctx, "evil", strings.NewReader("replaced")); err != nil {
		t.Fatalf("Put over a symbolic link: %v", err)
	}
	if got := names(t, outside); !slices.Equal(got, []string{"secret"}) {
		t.Errorf("folder outside the store holds %q, want only \"secret\"", got)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
		t.Errorf("file outside the store holds %q, %v; want \"secret\"", b, err)
	}
}

func TestLocalTempFolderLink(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "store")
	if err := os.MkdirAll(filepath.Join(base, "elsewhere"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "elsewhere"), filepath.Join(dir, ".tmp")); err != nil {
		t.Fatal(err)
	}
	l, err := store.NewLocal(dir)
	if err == nil {
		l.Close()
		t.Fatal("NewLocal accepted a .tmp folder that links out of the store")
	}
	t.Logf("NewLocal: %v", err)
}

func TestLocalModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "store")
	l, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Put(t.Context(), "a/b/put", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := l.Create(t.Context(), "a/c/create", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{
		"":           fs.ModeDir | 0o700,
		".tmp":       fs.ModeDir | 0o700,
		"a":          fs.ModeDir | 0o700,
		"a/b":        fs.ModeDir | 0o700,
		"a/c":        fs.ModeDir | 0o700,
		"a/b/put":    0o600,
		"a/c/create": 0o600,
		"..":         fs.ModeDir | 0o700, // created by NewLocal too
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != want {
			t.Errorf("mode of %q = %v, want %v", name, got, want)
		}
	}
}

func TestLocalStaleTemp(t *testing.T) {
	l, _, dir := newLocal(t)
	l.Close()
	tmp := filepath.Join(dir, ".tmp")
	for _, name := range []string{"stale", "fresh"} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte("part"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-61 * time.Minute)
	if err := os.Chtimes(filepath.Join(tmp, "stale"), old, old); err != nil {
		t.Fatal(err)
	}
	l, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, want := names(t, tmp), []string{"fresh"}; !slices.Equal(got, want) {
		t.Errorf("after NewLocal, .tmp holds %q, want %q", got, want)
	}
}

func TestLocalDeletePrunes(t *testing.T) {
	l, _, dir := newLocal(t)
	ctx := t.Context()
	for _, key := range []string{"a/b/c/d", "a/x"} {
		if err := l.Put(ctx, key, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, filepath.Join(dir, "a")), []string{"x"}; !slices.Equal(got, want) {
		t.Errorf("after Delete, a/ holds %q, want %q", got, want)
	}
	if err := l.Delete(ctx, "a/x"); err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, dir), []string{".tmp", ".tmp.lock"}; !slices.Equal(got, want) {
		t.Errorf("after Delete, the store holds %q, want %q", got, want)
	}
}

// TestLocalFolderConflict: a key cannot be both an object and a folder of
// other keys (see store.Store); the store says so and changes nothing.
func TestLocalFolderConflict(t *testing.T) {
	l, _, _ := newLocal(t)
	ctx := t.Context()
	for _, key := range []string{"obj", "dir/sub"} {
		if err := l.Put(ctx, key, strings.NewReader(key)); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"obj/under", "obj/under/deeper", "dir"} {
		for op, write := range map[string]func() error{
			"Put":    func() error { return l.Put(ctx, key, strings.NewReader("x")) },
			"Create": func() error { return l.Create(ctx, key, strings.NewReader("x")) },
		} {
			err := write()
			if err == nil || errors.Is(err, store.ErrExist) || errors.Is(err, store.ErrNotExist) || errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("%s(%q) error = %v, want an error that is no sentinel", op, key, err)
			}
			t.Logf("%s(%q): %v", op, key, err)
		}
	}
	var keys []string
	for info, err := range l.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if want := []string{"dir/sub", "obj"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
}

// TestLocalPutDeleteRace: Delete prunes the folders it empties while other
// writers commit into them; no write may fail for it.
func TestLocalPutDeleteRace(t *testing.T) {
	l, _, _ := newLocal(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 10 {
				key := fmt.Sprintf("p/q/r/%d-%d", i, j)
				if err := l.Put(ctx, key, strings.NewReader("x")); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				if err := l.Create(ctx, key+"c", strings.NewReader("x")); err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				for _, k := range []string{key, key + "c"} {
					if err := l.Delete(ctx, k); err != nil {
						t.Errorf("Delete: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
