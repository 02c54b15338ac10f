package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/pkg/sftp"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
)

// This file tests the path policy of the SFTP drop-zone with
// github.com/pkg/sftp's client, which sends paths exactly as given (OpenSSH
// would normalise many of them first): every verb against a table of
// hostile paths, all denied, and nothing changed anywhere.

// secErrOpened marks a write verb whose open succeeded (see secPolicyVerbs).
var secErrOpened = errors.New("opened")

// secMinDenied is how many hostile paths every verb must deny.
const secMinDenied = 30

// secHostilePaths are the paths every verb is tried with, as tenant acme,
// after zon's data, other store areas and a secret outside the store are
// planted (see TestSFTPPolicyHostilePaths).
func secHostilePaths(g *gw) []string {
	return []string{
		"../../etc/passwd",
		"/etc/passwd",
		"/",
		"",
		".",
		"//upload//../../x",
		"/upload/../outbox/../../zon/x",
		"/upload/a\\b.age",
		"/upload/a\x00b.age",
		"/upload/" + strings.Repeat("a", 4000) + ".age",
		"/outbox/../../outbox/zon/x.json",
		"/outbox/../../outbox/zon/r.json",
		"/outbox/own.json/../../outbox/zon/r.json",
		"/outbox/zon/r.json",
		"/outbox/r.json",
		"/outbox/own.json",
		"/outbox/acme/own.json",
		"/acme/outbox/own.json",
		"/zon/upload/x.age",
		"/upload/acme/x.age",
		"/upload/../../landed/acme",
		"/landed/acme/x/data",
		"/landed/zon",
		"/ledger/x.json",
		"/staging",
		"/out/kibg",
		"/outbox/../ledger",
		"/store/outbox/zon/r.json",
		"/.tmp/x",
		"/outbox/.tmp",
		"C:\\upload\\x.age",
		"\\\\server\\share",
		"/upload/.",
		"/upload/..",
		"/upload/./../outbox",
		"~/x",
		"/upload/x.age/",
		"/upload/x.age/..",
		"/upload/x.age.filepart/x.age",
		"/upload/../../../../../../../../tmp/x.age",
		"/proc/self/environ",
		"/dev/null",
		"/upload/ｘ.age",       // fullwidth x
		"/upload/x\u202e.age", // right-to-left override
		"/upload/%2e%2e/x.age",
		"/upload/%2e%2e%2fx.age",
		"/Upload/x.age",
		"/upload/.hidden.age",
		"/upload/x.txt",
		"/upload/.filepart",
		"/upload/x.filepart",
		"/upload/x.age\n",
		"/upload/x.age ",
		"/upload/x.age\x00.filepart",
		"/outbox/r.json\x00",
		"/outbox/" + strings.Repeat("a", 200) + ".json",
		filepath.Join(g.dir, "store", "outbox", "zon", "r.json"), // the real path on the server
		filepath.Join(g.dir, "secret.txt"),
	}
}

// Hostile paths that, once cleaned, name a place a verb may use. Each verb
// lists what it does with them instead of denying; everything else must be
// denied.
var (
	secFolderAliases = []string{"/", "", ".", "/upload/.", "/upload/..", "/upload/./../outbox", "/upload/x.age/.."}
	secOwnUpload     = "/upload/x.age/" // the file x.age in the tenant's own /upload
	secOwnReport     = "/outbox/own.json"
	secMissingReport = "/outbox/r.json" // zon has r.json; acme has none
)

func secExcept(want error, paths ...string) map[string]error {
	m := map[string]error{}
	for _, p := range paths {
		m[p] = want
	}
	return m
}

func secMerge(ms ...map[string]error) map[string]error {
	out := map[string]error{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// secPolicyVerb is one protocol request tried with every hostile path.
type secPolicyVerb struct {
	name string
	do   func(c *sftp.Client, p string) error
	// except: hostile paths that clean to a place this verb may use, with
	// the outcome wanted (nil: success). The rest must be denied.
	except map[string]error
	// want is the error every other path gets (default os.ErrPermission).
	want error
}

func secPolicyVerbs() []secPolicyVerb {
	openWrite := func(flags int) func(c *sftp.Client, p string) error {
		return func(c *sftp.Client, p string) error {
			f, err := c.OpenFile(p, flags)
			if err != nil {
				return err
			}
			// Nothing written: the upload is refused as empty at close.
			return errors.Join(secErrOpened, f.Close())
		}
	}
	// An empty upload to the tenant's own folder opens and is refused at
	// close: it stores nothing (checked by the snapshot).
	writeExcept := secExcept(secErrOpened, secOwnUpload)
	statExcept := secMerge(secExcept(nil, secFolderAliases...), secExcept(nil, secOwnReport),
		secExcept(os.ErrNotExist, secOwnUpload, secMissingReport))
	// Attribute changes are accepted and ignored wherever the tenant may be.
	setstatExcept := secMerge(secExcept(nil, secFolderAliases...), secExcept(nil, secOwnReport, secMissingReport, secOwnUpload))
	return []secPolicyVerb{
		{name: "Open(read)", do: func(c *sftp.Client, p string) error {
			f, err := c.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.ReadAll(f)
			return err
		}, except: secMerge(secExcept(nil, secOwnReport), secExcept(os.ErrNotExist, secMissingReport))},
		{name: "Create", do: openWrite(os.O_RDWR | os.O_CREATE | os.O_TRUNC), except: writeExcept},
		{name: "OpenFile(write,excl)", do: openWrite(os.O_WRONLY | os.O_CREATE | os.O_EXCL), except: writeExcept},
		{name: "OpenFile(append)", do: openWrite(os.O_WRONLY | os.O_APPEND), except: writeExcept},
		{name: "Remove", do: func(c *sftp.Client, p string) error { return c.Remove(p) }},
		{name: "Rmdir", do: func(c *sftp.Client, p string) error { return c.RemoveDirectory(p) }},
		{name: "Mkdir", do: func(c *sftp.Client, p string) error { return c.Mkdir(p) }},
		{name: "Rename(from)", do: func(c *sftp.Client, p string) error { return c.Rename(p, "/upload/x.age") }},
		{name: "Rename(to)", do: func(c *sftp.Client, p string) error { return c.Rename("/upload/part.age.filepart", p) }},
		{name: "PosixRename(from)", do: func(c *sftp.Client, p string) error { return c.PosixRename(p, "/upload/x.age") }},
		{name: "PosixRename(to)", do: func(c *sftp.Client, p string) error { return c.PosixRename("/upload/part.age.filepart", p) }},
		{name: "Symlink(target)", do: func(c *sftp.Client, p string) error { return c.Symlink(p, "/upload/link.age") }},
		{name: "Symlink(link)", do: func(c *sftp.Client, p string) error { return c.Symlink("/outbox/own.json", p) }},
		{name: "Link(from)", do: func(c *sftp.Client, p string) error { return c.Link(p, "/upload/link.age") }},
		{name: "Link(to)", do: func(c *sftp.Client, p string) error { return c.Link("/outbox/own.json", p) }},
		{name: "Chmod", do: func(c *sftp.Client, p string) error { return c.Chmod(p, 0o777) }, except: setstatExcept},
		{name: "Chown", do: func(c *sftp.Client, p string) error { return c.Chown(p, 0, 0) }, except: setstatExcept},
		{name: "Chtimes", do: func(c *sftp.Client, p string) error {
			return c.Chtimes(p, time.Unix(0, 0), time.Unix(0, 0))
		}, except: setstatExcept},
		{name: "Truncate", do: func(c *sftp.Client, p string) error { return c.Truncate(p, 0) }, except: setstatExcept},
		{name: "ReadDir", do: func(c *sftp.Client, p string) error {
			_, err := c.ReadDir(p)
			return err
		}, except: secExcept(nil, secFolderAliases...)},
		{name: "Stat", do: func(c *sftp.Client, p string) error {
			_, err := c.Stat(p)
			return err
		}, except: statExcept},
		{name: "Lstat", do: func(c *sftp.Client, p string) error {
			_, err := c.Lstat(p)
			return err
		}, except: statExcept},
		{name: "ReadLink", do: func(c *sftp.Client, p string) error {
			_, err := c.ReadLink(p)
			return err
		}},
		{name: "StatVFS", do: func(c *sftp.Client, p string) error {
			_, err := c.StatVFS(p)
			return err
		}, want: secErrUnsupported},
	}
}

// secErrUnsupported matches the SFTP status "operation unsupported".
var secErrUnsupported = errors.New("operation unsupported")

// secIs reports whether err is the outcome want.
func secIs(err, want error) bool {
	switch want {
	case nil:
		return err == nil
	case secErrUnsupported:
		var se *sftp.StatusError
		return errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxOpUnsupported
	}
	return errors.Is(err, want)
}

// secPlant puts objects into the store directly, as other tenants and the
// processor would have, and returns what it planted.
func secPlant(t *testing.T, g *gw) map[string][]byte {
	t.Helper()
	ctx := t.Context()
	planted := map[string][]byte{
		"outbox/acme/own.json":                           []byte(`{"delivery_id":"acme-own"}`),
		"outbox/zon/r.json":                              []byte(`{"delivery_id":"zon-report","secret":"zon only"}`),
		"outbox/zon/x.json":                              []byte(`{"delivery_id":"zon-x"}`),
		"landed/acme/x/data":                             ageBytes(100),
		"ledger/x.json":                                  []byte(`{"state":"accepted"}`),
		"staging/rom/zon/x.parquet":                      []byte("PAR1"),
		"out/kibg/rom_outcomes/period=2026-H1/a.parquet": []byte("PAR1"),
		"out/dhd/ig_indicators/year=2026/a.parquet":      []byte("PAR1"),
		"landed/zon/20261123T101500.123Z-3f9a1c2e/extra": []byte("zon"),
	}
	for k, v := range planted {
		if err := store.PutBytes(ctx, g.st, k, v); err != nil {
			t.Fatal(err)
		}
	}
	m, err := delivery.Commit(ctx, g.st, delivery.Upload{Tenant: "zon", Channel: delivery.ChannelCLI, FileName: "z.age"}, bytes.NewReader(ageBytes(1000)))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{delivery.DataKey("zon", m.ID), delivery.MetaKey("zon", m.ID)} {
		b, err := store.ReadAll(ctx, g.st, k, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		planted[k] = b
	}
	g.file("secret.txt", []byte("outside the store"))
	return planted
}

// secSnapshot describes every file, folder and link under dir (contents
// by hash, not modification times).
func secSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link " + target
		case e.IsDir():
			out[rel] = "dir"
		case e.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %v %d %x", info.Mode(), len(b), sha256.Sum256(b))
		default:
			out[rel] = "other " + e.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// secDiff lists what differs between two snapshots.
func secDiff(before, after map[string]string) []string {
	var diff []string
	for k, v := range after {
		if w, ok := before[k]; !ok {
			diff = append(diff, "added "+k+": "+v)
		} else if w != v {
			diff = append(diff, "changed "+k+": "+w+" -> "+v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			diff = append(diff, "removed "+k)
		}
	}
	slices.Sort(diff)
	return diff
}

func TestSFTPPolicyHostilePaths(t *testing.T) {
	g := startGateway(t, nil)
	planted := secPlant(t, g)
	c := g.secSFTP("acme")

	// Positive controls: what the tenant may do works over the same
	// client, so the denials below are the policy's, not a broken client.
	ok := ageBytes(10_000)
	f, err := c.Create("/upload/ok.age")
	if err != nil {
		t.Fatalf("create /upload/ok.age: %v", err)
	}
	if _, err := f.Write(ok); err != nil {
		t.Fatalf("write /upload/ok.age: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close /upload/ok.age: %v", err)
	}
	if ds := g.deliveries("acme"); len(ds) != 1 || ds[0].FileName != "ok.age" || ds[0].SHA256 != secSHA256(ok) {
		t.Fatalf("deliveries of acme after uploading ok.age: got %+v, want ok.age with sha256 %s", ds, secSHA256(ok))
	}
	if fi, err := c.Stat("/upload/ok.age"); err != nil || fi.Size() != int64(len(ok)) {
		t.Errorf("stat of the file just uploaded: got %v, %v; want size %d", fi, err, len(ok))
	}
	rf, err := c.Open("/outbox/own.json")
	if err != nil {
		t.Fatalf("open /outbox/own.json: %v", err)
	}
	if b, err := io.ReadAll(rf); err != nil || !bytes.Equal(b, planted["outbox/acme/own.json"]) {
		t.Errorf("read /outbox/own.json: got %q, %v; want %q", b, err, planted["outbox/acme/own.json"])
	}
	rf.Close()
	for dir, want := range map[string][]string{"/": {"outbox", "upload"}, "/upload": nil, "/outbox": {"own.json"}} {
		infos, err := c.ReadDir(dir)
		var names []string
		for _, fi := range infos {
			names = append(names, fi.Name())
		}
		slices.Sort(names)
		if err != nil || !slices.Equal(names, want) {
			t.Errorf("readdir %s: got %q, %v; want %q", dir, names, err, want)
		}
	}
	// No reading through a write handle either. (pkg/sftp's request
	// server hands a read request on a write handle to the writer as a
	// write of zeros at the offset read: here it overlaps the data sent,
	// and the upload fails.)
	rw, err := c.OpenFile("/upload/rw.age", os.O_RDWR|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Write(ageBytes(1000)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if n, err := rw.ReadAt(buf, 0); err == nil || n != 0 || !bytes.Equal(buf, make([]byte, 100)) {
		t.Errorf("read through a write handle: got %d bytes (%q), %v; want an error and nothing read", n, buf[:n], err)
	}
	rw.Close()

	// A staged WinSCP-style part, the source of the Rename(to) cases.
	pf, err := c.Create("/upload/part.age.filepart")
	if err != nil {
		t.Fatal(err)
	}
	part := ageBytes(5000)
	if _, err := pf.Write(part); err != nil {
		t.Fatal(err)
	}
	if err := pf.Close(); err != nil {
		t.Fatalf("close part: %v", err)
	}

	root := filepath.Dir(g.dir) // the test's whole temporary tree
	before := secSnapshot(t, root)
	if rel := filepath.Join(filepath.Base(g.dir), "store", "outbox", "zon", "r.json"); !strings.HasPrefix(before[rel], "file ") {
		t.Fatalf("snapshot of %s: no file %s in it", root, rel)
	}

	hostile := secHostilePaths(g)
	for _, v := range secPolicyVerbs() {
		t.Run(v.name, func(t *testing.T) {
			want := v.want
			if want == nil {
				want = os.ErrPermission
			}
			denied := 0
			for _, p := range hostile {
				w, excepted := v.except[p]
				if !excepted {
					w = want
				}
				err := v.do(c.Client, p)
				if !secIs(err, w) {
					t.Errorf("%s %q: got %v, want %v", v.name, secShort(p), err, secOr(w, "success"))
				}
				if !excepted {
					denied++
				}
			}
			for p := range v.except {
				if !slices.Contains(hostile, p) {
					t.Errorf("exception %q is not in the table", p)
				}
			}
			t.Logf("%s: %d hostile paths denied, %d excepted", v.name, denied, len(v.except))
			if denied < secMinDenied {
				t.Errorf("%s: %d hostile paths denied, want at least %d", v.name, denied, secMinDenied)
			}
		})
	}

	// RealPath is answered by pkg/sftp itself, by cleaning the path as
	// text: it touches no file and resolves no link, so it can reveal
	// nothing; it must return exactly the lexically cleaned path.
	t.Run("RealPath", func(t *testing.T) {
		for _, p := range hostile {
			got, err := c.RealPath(p)
			if want := path.Join("/", p); err != nil || got != want {
				t.Errorf("realpath %q: got %q, %v; want %q", secShort(p), secShort(got), err, secShort(want))
			}
		}
		if len(hostile) < secMinDenied {
			t.Errorf("RealPath: %d cases, want at least %d", len(hostile), secMinDenied)
		}
	})

	// Nothing changed: not in the store, not beside it.
	if diff := secDiff(before, secSnapshot(t, root)); len(diff) > 0 {
		t.Errorf("the hostile requests changed the file tree:\n%s", strings.Join(diff, "\n"))
	}
	for k, v := range planted {
		b, err := store.ReadAll(context.Background(), g.st, k, 1<<20)
		if err != nil || !bytes.Equal(b, v) {
			t.Errorf("planted %s: got %q, %v; want it unchanged", k, b, err)
		}
	}
	// What the server wrote to stderr about refused names is sanitised.
	for _, r := range c.stderr.String() {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			t.Errorf("the server wrote %U to the client's stderr", r)
		}
	}
	if !strings.Contains(c.stderr.String(), "(invalid_name)") {
		t.Errorf("stderr %q: want the refusals of bad names explained", secShort(c.stderr.String()))
	}

	// The session still works, and the staged part survived every
	// hostile rename: renaming it to its own name commits it.
	if err := c.Rename("/upload/part.age.filepart", "/upload/part.age"); err != nil {
		t.Fatalf("rename the part after the hostile renames: %v", err)
	}
	var names []string
	for _, d := range g.deliveries("acme") {
		names = append(names, d.FileName)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"ok.age", "part.age"}) {
		t.Errorf("deliveries of acme: got %q, want [ok.age part.age]", names)
	}
	if ds := g.deliveries("zon"); len(ds) != 1 || ds[0].FileName != "z.age" {
		t.Errorf("deliveries of zon: got %+v, want only the planted z.age", ds)
	}
}

// TestSFTPPolicyLinksNotFollowed: no tenant can make a link (see the
// Symlink and Link verbs above); links planted in the store by someone with
// access to the server's disk lead nowhere outside it.
func TestSFTPPolicyLinksNotFollowed(t *testing.T) {
	g := startGateway(t, nil)
	secret := []byte("outside the store")
	secretPath := g.file("secret.txt", secret)
	outbox := filepath.Join(g.dir, "store", "outbox", "acme")
	if err := os.MkdirAll(outbox, 0o700); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"abs.json":  secretPath,
		"rel.json":  "../../../secret.txt",
		"etc.json":  "/etc/passwd",
		"root.json": "/",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(outbox, name)); err != nil {
			t.Fatal(err)
		}
	}
	c := g.secSFTP("acme")
	for name := range links {
		p := "/outbox/" + name
		if f, err := c.Open(p); err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			t.Errorf("open %s (a link out of the store): read %q, want an error", p, secShort(string(b)))
		}
		if fi, err := c.Stat(p); err == nil {
			t.Errorf("stat %s (a link out of the store): got %v, want an error", p, fi)
		}
	}
	infos, _ := c.ReadDir("/outbox")
	for _, fi := range infos {
		t.Errorf("readdir /outbox: lists %s (size %d), want no link out of the store listed", fi.Name(), fi.Size())
	}
	// A tenant cannot make one either, to anywhere.
	for _, target := range []string{secretPath, "../../../secret.txt", "/outbox/own.json", "/etc/passwd"} {
		if err := c.Symlink(target, "/upload/l.age"); !errors.Is(err, os.ErrPermission) {
			t.Errorf("symlink /upload/l.age -> %s: got %v, want permission denied", target, err)
		}
		if err := c.Symlink(target, "/outbox/l.json"); !errors.Is(err, os.ErrPermission) {
			t.Errorf("symlink /outbox/l.json -> %s: got %v, want permission denied", target, err)
		}
	}
	if b, err := os.ReadFile(secretPath); err != nil || !bytes.Equal(b, secret) {
		t.Errorf("secret: got %q, %v; want it unchanged", b, err)
	}
}

// TestSFTPPolicyOtherTenant: zon's own reports are readable by zon, and
// under no name by acme.
func TestSFTPPolicyOtherTenant(t *testing.T) {
	g := startGateway(t, nil)
	report := []byte(`{"delivery_id":"zon-report"}`)
	if err := store.PutBytes(t.Context(), g.st, "outbox/zon/r.json", report); err != nil {
		t.Fatal(err)
	}
	zon := g.secSFTP("zon")
	f, err := zon.Open("/outbox/r.json")
	if err != nil {
		t.Fatalf("zon opens its own report: %v", err)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil || !bytes.Equal(b, report) {
		t.Fatalf("zon reads its own report: got %q, %v; want %q", b, err, report)
	}
	acme := g.secSFTP("acme")
	for _, p := range []string{"/outbox/r.json", "/outbox/zon/r.json", "/outbox/../../outbox/zon/r.json", "/outbox/../zon/r.json",
		"/zon/outbox/r.json", "/outbox/./r.json", "outbox/r.json", "/outbox//r.json"} {
		if f, err := acme.Open(p); err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			t.Errorf("acme opens %s: read %q, want an error", p, b)
		}
		if _, err := acme.Stat(p); err == nil {
			t.Errorf("acme stats %s: succeeded, want an error", p)
		}
	}
	if infos, err := acme.ReadDir("/outbox"); err != nil || len(infos) != 0 {
		t.Errorf("acme lists /outbox: got %d entries, %v; want none", len(infos), err)
	}
}

// secShort shortens a path for a message.
func secShort(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s…(%d bytes)", s[:80], len(s))
	}
	return s
}

func secOr(err error, otherwise string) any {
	if err == nil {
		return otherwise
	}
	return err
}

func secSHA256(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
