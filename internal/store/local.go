package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tmpDir is the folder, at the root of a Local store, that holds objects
// being written. ValidateKey refuses segments starting with ".tmp", so no key
// reaches it.
const tmpDir = ".tmp"

// lockName is the file, at the root of a Local store, whose flock serialises
// Replace and Delete between processes. ValidateKey refuses it as a key.
const lockName = ".tmp.lock"

// staleTemp is the age after which NewLocal removes a temporary file: its
// writer has crashed or stalled for that long. Files being written have a
// recent modification time, so other processes sharing the folder keep
// theirs.
const staleTemp = time.Hour

// commitAttempts bounds how often a commit recreates parent folders that a
// concurrent Delete pruned between their creation and the commit.
const commitAttempts = 8

// Local is a Store in a folder of the local filesystem, the embedded default.
// Key "a/b/c" is file c in folder a/b, so operators can read the store with
// ordinary tools. Files are created 0600 and folders 0700.
//
// Every file is opened through an [os.Root], so no key and no symbolic link
// planted in the folder reaches a file outside it. An object is written to a
// temporary file in .tmp/, synced, and then renamed (Put) or hard-linked
// (Create) into place, so readers and List see the old object or the whole
// new one, never a part, also after a crash.
//
// Several processes may share one folder (the gateway and the processor on
// one machine): every guarantee above holds between them.
type Local struct {
	root *os.Root
	// lock serialises Replace and Delete, in this process (mu) and between
	// processes sharing the folder (an flock on lockFile).
	mu       sync.Mutex
	lockFile *os.File
}

var _ Store = (*Local)(nil)

// NewLocal opens the store in dir, creating dir (0700) if it is absent, and
// removes temporary files that a crashed writer left more than an hour ago.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open local store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open local store: %w", err)
	}
	l := &Local{root: root}
	if err := l.init(); err != nil {
		root.Close()
		return nil, fmt.Errorf("open local store %s: %w", dir, err)
	}
	l.lockFile, err = root.OpenFile(lockName, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open local store %s: %w", dir, err)
	}
	return l, nil
}

// init creates the temporary folder and removes stale files from it.
func (l *Local) init() error {
	if err := l.root.Mkdir(tmpDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	d, err := l.root.Open(tmpDir)
	if err != nil {
		return err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if time.Since(info.ModTime()) < staleTemp {
			continue
		}
		err = l.root.RemoveAll(path.Join(tmpDir, e.Name()))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale temporary file: %w", err)
		}
	}
	return nil
}

// Close releases the folder. The store must not be used afterwards; readers
// returned by Get stay valid.
func (l *Local) Close() error {
	l.lockFile.Close()
	return l.root.Close()
}

// locked runs fn while holding the store's lock.
func (l *Local) locked(fn func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	fd := int(l.lockFile.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX)
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return fmt.Errorf("lock store: %w", err)
		}
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	return fn()
}

// etag names a version of a file: a Put or Replace makes a new file (a new
// inode, written later), so any write changes it.
func etag(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("%x-%x-%x", ino, fi.ModTime().UnixNano(), fi.Size())
}

// Replace implements Store: the comparison and the rename happen under the
// store's lock, which Delete takes too.
func (l *Local) Replace(ctx context.Context, key string, r io.Reader, tag string) error {
	if err := l.replace(ctx, key, r, tag); err != nil {
		return fmt.Errorf("store replace %s: %w", key, err)
	}
	return nil
}

func (l *Local) replace(ctx context.Context, key string, r io.Reader, tag string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := l.writeTemp(ctx, r)
	if err != nil {
		return err
	}
	err = l.locked(func() error {
		fi, err := l.root.Lstat(key)
		if err != nil || !fi.Mode().IsRegular() || etag(fi) != tag {
			return ErrChanged
		}
		if err := l.root.Rename(tmp, key); err != nil {
			return err
		}
		return l.syncDir(path.Dir(key))
	})
	if err != nil {
		l.root.Remove(tmp)
	}
	return err
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) error {
	if err := l.write(ctx, key, r, false); err != nil {
		return fmt.Errorf("store put %s: %w", key, err)
	}
	return nil
}

// Create implements Store.
func (l *Local) Create(ctx context.Context, key string, r io.Reader) error {
	if err := l.write(ctx, key, r, true); err != nil {
		return fmt.Errorf("store create %s: %w", key, err)
	}
	return nil
}

// write stores r under key: into a temporary file, then renamed over the
// key, or, when exclusive, hard-linked to it, which fails if the key exists.
func (l *Local) write(ctx context.Context, key string, r io.Reader, exclusive bool) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if exclusive {
		// Spare the copy when the answer is known; the link below decides.
		if _, err := l.root.Lstat(key); err == nil {
			return l.existErr(key)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := l.writeTemp(ctx, r)
	if err != nil {
		return err
	}
	if exclusive {
		err = l.commit(key, func() error { return l.root.Link(tmp, key) })
		// Linked or not, the temporary name goes. Should removing it fail,
		// NewLocal removes it later; it is never visible as a key.
		l.root.Remove(tmp)
	} else {
		err = l.commit(key, func() error { return l.root.Rename(tmp, key) })
		if err != nil {
			l.root.Remove(tmp)
		}
	}
	if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EISDIR) {
		return l.existErr(key)
	}
	return err
}

// existErr says why key cannot be created: an object is there (ErrExist), or
// a folder of other keys.
func (l *Local) existErr(key string) error {
	if fi, err := l.root.Lstat(key); err == nil && fi.IsDir() {
		return fmt.Errorf("key is a folder of other keys")
	}
	return ErrExist
}

// writeTemp copies r into a new temporary file, synced, and returns its name.
// On any failure, and when ctx ends, it removes the file.
func (l *Local) writeTemp(ctx context.Context, r io.Reader) (_ string, err error) {
	name := path.Join(tmpDir, rand.Text())
	f, err := l.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			l.root.Remove(name)
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return "", err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", fmt.Errorf("read: %w", rerr)
		}
	}
	// A reader may return its last bytes with EOF after ctx has ended.
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// commit creates the parent folders of key and runs place, which moves the
// temporary file to key. A concurrent Delete may prune a folder while commit
// creates the folders or before place; then commit tries again. Afterwards it syncs the folders
// whose entries changed, so the commit survives a crash.
func (l *Local) commit(key string, place func() error) error {
	var created []string
	var err error
	for range commitAttempts {
		var c []string
		c, err = l.mkdirs(path.Dir(key))
		created = append(created, c...)
		if err == nil {
			err = place()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	sync := []string{path.Dir(key)}
	for _, dir := range created {
		sync = append(sync, path.Dir(dir))
	}
	slices.Sort(sync)
	for _, dir := range slices.Compact(sync) {
		if err := l.syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// mkdirs creates folder dir and its parents as needed, and returns the
// folders it created. It refuses when a segment is an object.
func (l *Local) mkdirs(dir string) (created []string, err error) {
	if dir == "." {
		return nil, nil
	}
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		p := dir[:i]
		err := l.root.Mkdir(p, 0o700)
		switch {
		case err == nil:
			created = append(created, p)
		case errors.Is(err, fs.ErrExist):
			fi, err := l.root.Stat(p)
			if err != nil {
				return created, err
			}
			if !fi.IsDir() {
				return created, fmt.Errorf("key %s is an object, not a folder", p)
			}
		default:
			return created, err
		}
	}
	return created, nil
}

// syncDir makes the entries of folder dir durable.
func (l *Local) syncDir(dir string) error {
	d, err := l.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Get implements Store. The reader is the open *os.File.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("store get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store get %s: %w", key, err)
	}
	f, err := l.root.Open(key)
	if err != nil {
		return nil, fmt.Errorf("store get %s: %w", key, notExist(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store get %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("store get %s: %w", key, ErrNotExist)
	}
	return f, nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, fmt.Errorf("store stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("store stat %s: %w", key, err)
	}
	fi, err := l.root.Stat(key)
	if err != nil {
		return Info{}, fmt.Errorf("store stat %s: %w", key, notExist(err))
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("store stat %s: %w", key, ErrNotExist)
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), ETag: etag(fi)}, nil
}

// notExist turns the errors of a path that leads nowhere into ErrNotExist.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ErrNotExist
	}
	return err
}

// Delete implements Store. It removes the folders the object leaves empty,
// but never the store's own folder.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("store delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store delete %s: %w", key, err)
	}
	err := l.locked(func() error {
		fi, err := l.root.Lstat(key)
		if err != nil {
			if notExist(err) == ErrNotExist {
				return nil
			}
			return err
		}
		if fi.IsDir() {
			return nil // a folder of other keys, not an object
		}
		if err := l.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store delete %s: %w", key, err)
	}
	l.prune(path.Dir(key))
	return nil
}

// prune removes dir and its parents while they are empty. It is best effort:
// a folder that a concurrent writer fills again stays, and a writer that
// loses its folder recreates it (see commit).
func (l *Local) prune(dir string) {
	for ; dir != "."; dir = path.Dir(dir) {
		fi, err := l.root.Lstat(dir)
		if err != nil || !fi.IsDir() {
			return
		}
		if l.root.Remove(dir) != nil {
			return // not empty, most likely
		}
	}
}

// List implements Store. It reads one folder at a time, so it holds the
// entries of at most one folder per level, and enters only folders that can
// hold matching keys. Entries that are not regular files or folders are not
// objects; a symbolic link is followed within the store, and one that leads
// outside it is yielded as an error.
func (l *Local) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		l.list(ctx, "", prefix, yield)
	}
}

// list yields the matching objects under folder dir ("" for the root, else
// the folder's key with a trailing slash) and reports whether to go on.
func (l *Local) list(ctx context.Context, dir, prefix string, yield func(Info, error) bool) bool {
	if err := ctx.Err(); err != nil {
		return yield(Info{}, fmt.Errorf("store list %q: %w", prefix, err))
	}
	name := strings.TrimSuffix(dir, "/")
	if name == "" {
		name = "."
	}
	d, err := l.root.Open(name)
	if err != nil {
		if notExist(err) == ErrNotExist {
			return true // pruned by a concurrent Delete
		}
		return yield(Info{}, fmt.Errorf("store list %q: %w", prefix, err))
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return yield(Info{}, fmt.Errorf("store list %q: %w", prefix, err))
	}

	// Sort by the key each entry stands for, a folder's with its trailing
	// slash: then "a-b" < "a.b" < "a/…" < "a0", as in byte order of keys.
	type entry struct {
		key string
		de  fs.DirEntry
	}
	keyed := make([]entry, 0, len(entries))
	for _, de := range entries {
		key := dir + de.Name()
		if ValidateKey(key) != nil {
			continue // .tmp, and files no key can name
		}
		if de.IsDir() {
			key += "/"
		}
		keyed = append(keyed, entry{key, de})
	}
	slices.SortFunc(keyed, func(a, b entry) int { return strings.Compare(a.key, b.key) })

	for _, e := range keyed {
		if e.key > prefix && !strings.HasPrefix(e.key, prefix) {
			break // this and every later key sort after all matches
		}
		if e.de.IsDir() {
			if strings.HasPrefix(e.key, prefix) || strings.HasPrefix(prefix, e.key) {
				if !l.list(ctx, e.key, prefix, yield) {
					return false
				}
			}
			continue
		}
		if !strings.HasPrefix(e.key, prefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return yield(Info{}, fmt.Errorf("store list %q: %w", prefix, err))
		}
		var fi fs.FileInfo
		if e.de.Type().IsRegular() {
			fi, err = e.de.Info()
		} else {
			fi, err = l.root.Stat(e.key)
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // deleted meanwhile
		case err != nil:
			if !yield(Info{Key: e.key}, fmt.Errorf("store list %s: %w", e.key, err)) {
				return false
			}
			continue
		case !fi.Mode().IsRegular():
			continue
		}
		if !yield(Info{Key: e.key, Size: fi.Size(), ModTime: fi.ModTime(), ETag: etag(fi)}, nil) {
			return false
		}
	}
	return true
}
