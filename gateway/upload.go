package gateway

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/delivery"
)

// ReorderWindow bounds the bytes an upload holds while it waits for an
// earlier part: SFTP clients send many writes at once and the server's
// workers handle them out of order, but a client that writes far ahead (or
// leaves a gap) must not make the server buffer without limit. OpenSSH
// keeps at most 64 requests of 256 KiB in flight: 16 MiB covers that.
const ReorderWindow = 16 << 20

var (
	errShutdown    = errors.New("the server is shutting down")
	errBroken      = errors.New("transfer broken off")
	errWindow      = errors.New("write too far ahead of the data received so far")
	errOverlap     = errors.New("write overlaps data already received")
	errIncomplete  = errors.New("upload closed with a gap in its data")
	errUploadState = errors.New("upload already finished")
)

// Session is who uploads: the authenticated tenant and where from.
type Session struct {
	ID             string
	Tenant         string
	Channel        string
	RemoteAddr     string
	KeyFingerprint string
}

// Upload streams one file into the store. Writes may arrive out of order
// (within ReorderWindow); the first bytes are checked to be an age or
// OpenPGP message before anything is stored; the size limit is enforced as
// the data arrives. Finish stages the complete upload; Abort discards it.
type Upload struct {
	d       *Dropzone
	s       Session
	Name    string
	started time.Time

	mu          sync.Mutex
	next        int64            // offset of the next byte expected
	ahead       map[int64][]byte // writes past next, waiting for the gap to fill
	aheadBytes  int64
	head        []byte // first bytes, held until the format is checked
	sniffed     bool
	err         error // sticky failure
	finished    bool
	pw          *io.PipeWriter
	done        chan struct{}
	pending     *delivery.Pending
	stageErr    error
	releaseOnce sync.Once
	maxSize     int64
}

// StartUpload begins an upload of name (already checked by the caller's
// path policy) for session s.
func (d *Dropzone) StartUpload(ctx context.Context, s Session, name string) (*Upload, error) {
	if err := delivery.ValidateName(name); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	u := &Upload{d: d, s: s, Name: name, started: d.now(), ahead: map[int64][]byte{}, pw: pw,
		done: make(chan struct{}), maxSize: int64(d.Limits.MaxFileSize)}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil, errShutdown
	}
	d.active[u] = struct{}{}
	d.uploads.Add(1) // under d.mu: never after WaitUploads saw no upload
	d.mu.Unlock()
	go func() {
		defer close(u.done)
		p, err := delivery.Stage(context.WithoutCancel(ctx), d.Store, delivery.Upload{
			Tenant: s.Tenant, Channel: s.Channel, FileName: name, RemoteAddr: s.RemoteAddr,
			KeyFingerprint: s.KeyFingerprint, MaxSize: u.maxSize, Now: u.started,
		}, pr)
		u.pending, u.stageErr = p, err
		// Unblock a writer when staging ended early (size limit, store failure).
		pr.CloseWithError(cmpErr(err, io.ErrClosedPipe))
	}()
	d.Audit(EventUploadStarted, "tenant", s.Tenant, "session", s.ID, "addr", s.RemoteAddr, "protocol", s.Channel, "file", name)
	return u, nil
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// WriteAt takes the bytes of p at offset off.
func (u *Upload) WriteAt(p []byte, off int64) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return 0, u.err
	}
	if u.finished {
		return 0, errUploadState
	}
	end := off + int64(len(p))
	switch {
	case off < 0:
		return 0, u.fail(errOverlap)
	case u.maxSize > 0 && end > u.maxSize:
		return 0, u.fail(delivery.ErrTooLarge)
	case off < u.next:
		return 0, u.fail(errOverlap)
	case off > u.next:
		if _, dup := u.ahead[off]; dup || u.aheadBytes+int64(len(p)) > ReorderWindow {
			return 0, u.fail(errWindow)
		}
		u.ahead[off] = append([]byte(nil), p...) // the caller reuses p
		u.aheadBytes += int64(len(p))
		return len(p), nil
	}
	if err := u.emit(p); err != nil {
		return 0, err
	}
	for {
		b, ok := u.ahead[u.next]
		if !ok {
			break
		}
		delete(u.ahead, u.next)
		u.aheadBytes -= int64(len(b))
		if err := u.emit(b); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// emit passes in-order bytes on; called with u.mu held.
func (u *Upload) emit(p []byte) error {
	u.next += int64(len(p))
	if !u.sniffed {
		u.head = append(u.head, p...)
		if len(u.head) < crypto.SniffLen {
			return nil
		}
		if err := u.checkHead(); err != nil {
			return err
		}
		p, u.head = u.head, nil
	}
	if _, err := u.pw.Write(p); err != nil {
		<-u.done
		return u.fail(cmpErr(u.stageErr, err))
	}
	return nil
}

func (u *Upload) checkHead() error {
	u.sniffed = true
	if len(u.head) == 0 {
		return u.fail(delivery.ErrEmpty)
	}
	if crypto.DetectFormat(u.head) == crypto.FormatUnknown {
		return u.fail(delivery.ErrNotEncrypted)
	}
	return nil
}

// fail makes err sticky and stops staging; called with u.mu held.
func (u *Upload) fail(err error) error {
	if u.err == nil {
		u.err = err
		u.pw.CloseWithError(err)
	}
	return u.err
}

// Failed returns the error that ended the upload, if any.
func (u *Upload) Failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// Size is the number of bytes received in order so far.
func (u *Upload) Size() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.next
}

// Finish ends a complete transfer and returns the staged upload. The caller
// commits it (under its final name) or discards it.
func (u *Upload) Finish() (*delivery.Pending, error) {
	u.mu.Lock()
	if u.finished {
		u.mu.Unlock()
		return nil, errUploadState
	}
	u.finished = true
	err := u.err
	if err == nil && len(u.ahead) > 0 {
		err = u.fail(errIncomplete)
	}
	if err == nil && !u.sniffed {
		if err = u.checkHead(); err == nil {
			if _, werr := u.pw.Write(u.head); werr != nil {
				err = werr
			}
		}
	}
	if err == nil {
		u.pw.Close()
	}
	u.mu.Unlock()
	<-u.done
	defer u.release()
	if err == nil {
		err = u.stageErr
	}
	if err != nil {
		if u.pending != nil {
			u.pending.Discard(context.Background())
		}
		return nil, err
	}
	return u.pending, nil
}

// Abort discards the upload: nothing of it remains in the store.
func (u *Upload) Abort(cause error) {
	// Close the pipe before taking the lock: a writer may hold the lock
	// while it waits in a pipe write for a slow store.
	u.pw.CloseWithError(cmpErr(cause, errBroken))
	u.mu.Lock()
	already := u.finished
	u.finished = true
	u.fail(cmpErr(cause, errBroken))
	u.mu.Unlock()
	if already {
		return
	}
	<-u.done
	if u.pending != nil {
		u.pending.Discard(context.Background())
	}
	u.release()
	u.d.Audit(EventUploadAborted, "tenant", u.s.Tenant, "session", u.s.ID, "addr", u.s.RemoteAddr, "protocol", u.s.Channel,
		"file", u.Name, "bytes_received", u.Size(), "reason", reasonOf(cmpErr(cause, errBroken)))
}

func (u *Upload) release() {
	u.releaseOnce.Do(func() {
		u.d.mu.Lock()
		delete(u.d.active, u)
		u.d.mu.Unlock()
		u.d.uploads.Done()
	})
}

// CommitUpload makes a finished upload a delivery under name and writes the
// upload.committed event. When it fails, the caller refuses the upload (and
// audits that, once).
func (d *Dropzone) CommitUpload(ctx context.Context, s Session, p *delivery.Pending, name string) (delivery.Meta, error) {
	m, err := p.Commit(ctx, name)
	if err != nil {
		return m, err
	}
	d.Audit(EventUploadCommitted, "tenant", s.Tenant, "session", s.ID, "addr", s.RemoteAddr, "protocol", s.Channel,
		"key_fingerprint", s.KeyFingerprint, "delivery", m.ID, "file", m.FileName, "size", m.Size, "sha256", m.SHA256)
	return m, nil
}

// reasonOf names a failure for audit events and metrics: refusal codes as
// they are, anything else by a fixed word (details go to the error log).
func reasonOf(err error) string {
	var r *delivery.Refusal
	switch {
	case errors.As(err, &r):
		return r.Code
	case errors.Is(err, errWindow), errors.Is(err, errOverlap), errors.Is(err, errIncomplete):
		return "protocol"
	case errors.Is(err, errShutdown):
		return "shutdown"
	case errors.Is(err, errBroken):
		return "broken"
	}
	return "error"
}
