package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
)

// The drop-zone as an SFTP client sees it: two folders, nothing else.
//
//	/upload   write-only: create and write new files; no read, no listing of
//	          stored data, no remove, mkdir, symlink or rename (except
//	          WinSCP's NAME.filepart -> NAME); attribute changes are accepted
//	          and ignored
//	/outbox   list and read the tenant's feedback reports
//
// Every request's path (already cleaned by the SFTP library: "..", "." and
// "//" resolved) is classified once by classify; what is not an allowed
// place for that verb is denied.

// filepartSuffix is WinSCP's temporary upload name.
const filepartSuffix = ".filepart"

// maxOutboxRead bounds a report read through a store without ReaderAt.
const maxOutboxRead = 64 << 20

var outboxName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

type place int

const (
	placeDenied place = iota
	placeRoot
	placeUploadDir
	placeOutboxDir
	placeUploadFile
	placeOutboxFile
)

// classify maps a cleaned absolute path to a place and, for files, a name.
func classify(p string) (place, string) {
	switch p {
	case "/":
		return placeRoot, ""
	case "/upload":
		return placeUploadDir, ""
	case "/outbox":
		return placeOutboxDir, ""
	}
	dir, name, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok || strings.Contains(name, "/") || !strings.HasPrefix(p, "/") {
		return placeDenied, ""
	}
	switch dir {
	case "upload":
		base := strings.TrimSuffix(name, filepartSuffix)
		if delivery.ValidateName(base) == nil {
			return placeUploadFile, name
		}
	case "outbox":
		if outboxName.MatchString(name) {
			return placeOutboxFile, name
		}
	}
	return placeDenied, ""
}

// sftpSession serves one SFTP session of a tenant.
type sftpSession struct {
	d      *Dropzone
	s      Session
	ctx    context.Context
	stderr io.Writer // the channel's stderr: OpenSSH's sftp prints it

	mu    sync.Mutex
	files map[string]fileInfo          // what this session uploaded, for stat
	parts map[string]*delivery.Pending // staged NAME.filepart awaiting rename
}

func newSFTPSession(ctx context.Context, d *Dropzone, s Session, stderr io.Writer) *sftpSession {
	return &sftpSession{d: d, s: s, ctx: ctx, stderr: &lockedWriter{w: stderr}, files: map[string]fileInfo{}, parts: map[string]*delivery.Pending{}}
}

// lockedWriter serialises writes: pkg/sftp's workers refuse uploads
// concurrently, and an ssh channel's stderr takes one writer at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (ss *sftpSession) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: ss, FilePut: ss, FileCmd: ss, FileList: ss}
}

// end discards uploads staged as .filepart and never renamed.
func (ss *sftpSession) end() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for name, p := range ss.parts {
		p.Discard(ss.ctx)
		ss.d.Audit(EventUploadAborted, "tenant", ss.s.Tenant, "session", ss.s.ID, "addr", ss.s.RemoteAddr, "protocol", "sftp",
			"file", name, "reason", "filepart_not_renamed")
	}
	clear(ss.parts)
}

// deny records a denied request and returns the SFTP permission-denied
// status (a fixed message: nothing internal reaches the client).
func (ss *sftpSession) deny(method, p string) error {
	ss.d.Audit(EventDenied, "tenant", ss.s.Tenant, "session", ss.s.ID, "addr", ss.s.RemoteAddr, "protocol", "sftp", "method", method)
	return sftp.ErrSSHFxPermissionDenied
}

// refuse tells the client why an upload was refused, on the channel's
// stderr (OpenSSH's sftp and scp print it), and returns permission denied.
func (ss *sftpSession) refuse(name string, err error) error {
	reason, msg := reasonOf(err), "upload failed"
	var r *delivery.Refusal
	switch {
	case errors.As(err, &r):
		msg = r.Message
	case errors.Is(err, errWindow), errors.Is(err, errOverlap), errors.Is(err, errIncomplete):
		msg = "the client wrote the file out of order beyond what the server accepts"
	case errors.Is(err, errShutdown):
		msg = "the server is shutting down; upload again later"
	default:
		ss.d.log.Error("upload failed", "tenant", ss.s.Tenant, "session", ss.s.ID, "err", err)
		msg = "the server could not store the file; upload again later (session " + ss.s.ID + ")"
	}
	fmt.Fprintf(ss.stderr, "ttpgate: %s refused: %s (%s)\n", name, msg, reason)
	ss.d.Audit(EventUploadRefused, "tenant", ss.s.Tenant, "session", ss.s.ID, "addr", ss.s.RemoteAddr, "protocol", "sftp",
		"file", name, "reason", reason)
	if r != nil || reason == "protocol" {
		return sftp.ErrSSHFxPermissionDenied
	}
	return sftp.ErrSSHFxFailure
}

// Fileread serves reads: only the tenant's outbox.
func (ss *sftpSession) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	pl, name := classify(r.Filepath)
	if pl != placeOutboxFile {
		return nil, ss.deny(r.Method, r.Filepath)
	}
	key := "outbox/" + ss.s.Tenant + "/" + name
	rc, err := ss.d.Store.Get(ss.ctx, key)
	if errors.Is(err, store.ErrNotExist) {
		return nil, os.ErrNotExist
	}
	if err != nil {
		ss.d.log.Error("outbox read", "tenant", ss.s.Tenant, "session", ss.s.ID, "err", err)
		return nil, sftp.ErrSSHFxFailure
	}
	if ra, ok := rc.(io.ReaderAt); ok {
		return readerAtCloser{ra, rc}, nil
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxOutboxRead))
	if err != nil {
		return nil, sftp.ErrSSHFxFailure
	}
	return bytes.NewReader(b), nil
}

type readerAtCloser struct {
	io.ReaderAt
	io.Closer
}

// Filewrite starts an upload: only new files in /upload.
func (ss *sftpSession) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	pl, name := classify(r.Filepath)
	if pl != placeUploadFile {
		if pl == placeDenied && strings.HasPrefix(r.Filepath, "/upload/") {
			base := r.Filepath[len("/upload/"):]
			return nil, ss.refuse(safeName(base), delivery.ErrBadName)
		}
		return nil, ss.deny(r.Method, r.Filepath)
	}
	final := strings.TrimSuffix(name, filepartSuffix)
	u, err := ss.d.StartUpload(ss.ctx, ss.s, final)
	if err != nil {
		return nil, ss.refuse(name, err)
	}
	return &sftpUpload{ss: ss, u: u, name: name}, nil
}

// safeName shortens and cleans a refused name for a message: it may hold
// anything the client sent.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// sftpUpload is the io.WriterAt pkg/sftp writes an upload into.
type sftpUpload struct {
	ss     *sftpSession
	u      *Upload
	name   string
	broken error

	// The writes in flight when an upload fails all fail: the client is
	// told, and the refusal audited, once.
	refuseOnce sync.Once
	refusal    error
}

func (w *sftpUpload) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.u.WriteAt(p, off)
	if err != nil {
		w.refuseOnce.Do(func() { w.refusal = w.ss.refuse(w.name, err) })
		return n, w.refusal
	}
	return n, nil
}

// TransferError is how pkg/sftp tells a broken transfer from a finished
// one: Close follows in both cases.
func (w *sftpUpload) TransferError(err error) { w.broken = err }

func (w *sftpUpload) Close() error {
	if w.broken != nil {
		w.u.Abort(errBroken)
		return nil
	}
	if err := w.u.Failed(); err != nil {
		w.u.Abort(err)
		return sftp.ErrSSHFxPermissionDenied // already told on stderr
	}
	p, err := w.u.Finish()
	if err != nil {
		return w.ss.refuse(w.name, err)
	}
	ss := w.ss
	info := fileInfo{name: w.name, size: p.Meta().Size, mod: p.Meta().ReceivedAt}
	if strings.HasSuffix(w.name, filepartSuffix) {
		ss.mu.Lock()
		if old, ok := ss.parts[w.name]; ok {
			old.Discard(ss.ctx)
		}
		ss.parts[w.name] = p
		ss.files[w.name] = info
		ss.mu.Unlock()
		return nil
	}
	if _, err := ss.d.CommitUpload(ss.ctx, ss.s, p, w.name); err != nil {
		return ss.refuse(w.name, err)
	}
	ss.mu.Lock()
	ss.files[w.name] = info
	ss.mu.Unlock()
	return nil
}

// Filecmd: attribute changes are accepted and ignored where the tenant may
// be; the only rename is NAME.filepart -> NAME; everything else is denied.
func (ss *sftpSession) Filecmd(r *sftp.Request) error {
	pl, name := classify(r.Filepath)
	switch r.Method {
	case "Setstat":
		if pl == placeDenied {
			return ss.deny(r.Method, r.Filepath)
		}
		return nil
	case "Rename", "PosixRename":
		tpl, target := classify(r.Target)
		if pl != placeUploadFile || tpl != placeUploadFile || name != target+filepartSuffix {
			return ss.deny(r.Method, r.Filepath)
		}
		ss.mu.Lock()
		p, ok := ss.parts[name]
		delete(ss.parts, name)
		delete(ss.files, name)
		ss.mu.Unlock()
		if !ok {
			return ss.deny(r.Method, r.Filepath)
		}
		if _, err := ss.d.CommitUpload(ss.ctx, ss.s, p, target); err != nil {
			return ss.refuse(target, err)
		}
		ss.mu.Lock()
		ss.files[target] = fileInfo{name: target, size: p.Meta().Size, mod: p.Meta().ReceivedAt}
		ss.mu.Unlock()
		return nil
	}
	return ss.deny(r.Method, r.Filepath)
}

// Filelist lists the two folders and the outbox, and stats what the tenant
// may see: the folders, its outbox files, and files this session uploaded.
func (ss *sftpSession) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	pl, name := classify(r.Filepath)
	switch r.Method {
	case "List":
		switch pl {
		case placeRoot:
			return listerAt{dirInfo("upload"), dirInfo("outbox")}, nil
		case placeUploadDir:
			return listerAt{}, nil // write-only: stored deliveries are never listed
		case placeOutboxDir:
			return ss.listOutbox()
		}
	case "Stat", "Lstat":
		switch pl {
		case placeRoot:
			return listerAt{dirInfo("/")}, nil
		case placeUploadDir:
			return listerAt{dirInfo("upload")}, nil
		case placeOutboxDir:
			return listerAt{dirInfo("outbox")}, nil
		case placeUploadFile:
			ss.mu.Lock()
			fi, ok := ss.files[name]
			ss.mu.Unlock()
			if !ok {
				return nil, os.ErrNotExist
			}
			return listerAt{fi}, nil
		case placeOutboxFile:
			info, err := ss.d.Store.Stat(ss.ctx, "outbox/"+ss.s.Tenant+"/"+name)
			if errors.Is(err, store.ErrNotExist) {
				return nil, os.ErrNotExist
			}
			if err != nil {
				return nil, sftp.ErrSSHFxFailure
			}
			return listerAt{fileInfo{name: name, size: info.Size, mod: info.ModTime, readable: true}}, nil
		}
	}
	return nil, ss.deny(r.Method, r.Filepath)
}

func (ss *sftpSession) listOutbox() (sftp.ListerAt, error) {
	prefix := "outbox/" + ss.s.Tenant + "/"
	var out listerAt
	for info, err := range ss.d.Store.List(ss.ctx, prefix) {
		if err != nil {
			return nil, sftp.ErrSSHFxFailure
		}
		name := strings.TrimPrefix(info.Key, prefix)
		if outboxName.MatchString(name) {
			out = append(out, fileInfo{name: name, size: info.Size, mod: info.ModTime, readable: true})
		}
	}
	return out, nil
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

type fileInfo struct {
	name     string
	size     int64
	mod      time.Time
	dir      bool
	readable bool
}

func dirInfo(name string) fileInfo { return fileInfo{name: name, dir: true, mod: time.Unix(0, 0)} }

func (f fileInfo) Name() string       { return f.name }
func (f fileInfo) Size() int64        { return f.size }
func (f fileInfo) ModTime() time.Time { return f.mod }
func (f fileInfo) IsDir() bool        { return f.dir }
func (f fileInfo) Sys() any           { return nil }
func (f fileInfo) Mode() fs.FileMode {
	switch {
	case f.dir:
		return fs.ModeDir | 0o755
	case f.readable:
		return 0o444
	}
	return 0o200 // write-only
}
