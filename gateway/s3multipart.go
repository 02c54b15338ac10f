package gateway

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
)

// Multipart uploads keep their parts in the store, outside the drop-zone,
// until they are completed:
//
//	multipart/<tenant>/<upload-id>/upload.json        the object key, when it began
//	multipart/<tenant>/<upload-id>/part-00001         a part's bytes as received
//	multipart/<tenant>/<upload-id>/part-00001.json    its size and MD5
//
// Nothing there is a delivery and the processor never looks there. Part 1
// must begin as an age or OpenPGP message, like any upload, so plaintext is
// refused before it is stored. CompleteMultipartUpload streams the parts in
// order into one drop-zone upload, which becomes one delivery, and then
// removes them; an upload neither completed nor aborted is removed by the
// janitor once it is older than the multipart expiry. The store holds all
// the state, so several gateways may serve one store.

// S3's multipart limits, and ours.
const (
	s3MaxPartNumber      = 10000
	s3MinPartSize        = 5 << 20 // all parts but the last
	s3MaxPartSize        = 5 << 30
	s3MaxMultipart       = 16 // multipart uploads in progress per tenant
	s3MaxCompleteBody    = 4 << 20
	s3MaxListParts       = 1000
	s3MultipartUploadDoc = "upload.json"
)

var uploadIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

var (
	errS3TooManyUploads = &s3Error{Code: "InvalidRequest", Message: fmt.Sprintf("Too many multipart uploads in progress (at most %d): complete or abort one first.", s3MaxMultipart), Status: http.StatusBadRequest}
	errS3BadPartNumber  = &s3Error{Code: "InvalidArgument", Message: "Part number must be an integer between 1 and 10000, inclusive.", Status: http.StatusBadRequest}
	errS3FirstPart      = &s3Error{Code: "InvalidPart", Message: "The parts of an upload must begin with part 1.", Status: http.StatusBadRequest}
	errS3PartChanged    = &s3Error{Code: "InvalidPart", Message: "A part changed while the upload was being completed; upload it again.", Status: http.StatusBadRequest}
)

// multipartUpload is upload.json.
type multipartUpload struct {
	Key       string    `json:"key"` // upload/NAME
	Initiated time.Time `json:"initiated"`
	AccessKey string    `json:"access_key"`
}

// partMeta is part-NNNNN.json.
type partMeta struct {
	Size int64  `json:"size"`
	MD5  string `json:"md5"` // hex
}

func multipartDir(tenant, id string) string { return "multipart/" + tenant + "/" + id + "/" }

func partKey(tenant, id string, n int) string {
	return fmt.Sprintf("%spart-%05d", multipartDir(tenant, id), n)
}

func newUploadID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hold marks a multipart upload as worked on, so that the janitor leaves it
// alone; the returned func releases it.
func (s *S3Server) hold(dir string) func() {
	s.mu.Lock()
	s.busy[dir]++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if s.busy[dir]--; s.busy[dir] <= 0 {
			delete(s.busy, dir)
		}
		s.mu.Unlock()
	}
}

// openMultipart reads the upload's upload.json and checks that it is an
// upload of the tenant's object key; NoSuchUpload otherwise, the same for
// an id that does not exist, belongs to another key or is malformed.
func (s *S3Server) openMultipart(ctx context.Context, q *s3Request, name string, nameOK bool, id string) (multipartUpload, error) {
	if !nameOK || !uploadIDPattern.MatchString(id) {
		return multipartUpload{}, errNoSuchUpload
	}
	b, err := store.ReadAll(ctx, s.d.Store, multipartDir(q.tenant, id)+s3MultipartUploadDoc, 64<<10)
	if errors.Is(err, store.ErrNotExist) {
		return multipartUpload{}, errNoSuchUpload
	}
	if err != nil {
		return multipartUpload{}, err
	}
	var m multipartUpload
	if err := json.Unmarshal(b, &m); err != nil {
		return multipartUpload{}, fmt.Errorf("multipart upload %s: %w", id, err)
	}
	if m.Key != "upload/"+name {
		return multipartUpload{}, errNoSuchUpload
	}
	return m, nil
}

// multipartUploads lists the tenant's multipart uploads in progress: the
// upload ids with the time each began.
func (s *S3Server) multipartUploads(ctx context.Context, tenant string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	prefix := "multipart/" + tenant + "/"
	for info, err := range s.d.Store.List(ctx, prefix) {
		if err != nil {
			return nil, err
		}
		id, file, ok := strings.Cut(strings.TrimPrefix(info.Key, prefix), "/")
		if ok && file == s3MultipartUploadDoc {
			out[id] = info.ModTime
		}
	}
	return out, nil
}

func (s *S3Server) createMultipartUpload(q *s3Request, name string) {
	ctx := q.r.Context()
	s.creating.Lock()
	defer s.creating.Unlock()
	ups, err := s.multipartUploads(ctx, q.tenant)
	if err != nil {
		q.fail(err)
		return
	}
	if len(ups) >= s3MaxMultipart {
		s.d.Audit(EventUploadRefused, "tenant", q.tenant, "session", q.id, "addr", q.r.RemoteAddr, "protocol", "s3",
			"file", name, "reason", "too_many_multipart_uploads")
		q.fail(errS3TooManyUploads)
		return
	}
	id := newUploadID()
	doc, _ := json.Marshal(multipartUpload{Key: "upload/" + name, Initiated: s.d.now().UTC(), AccessKey: q.auth.Cred.AccessKeyID})
	if err := s.d.Store.Create(ctx, multipartDir(q.tenant, id)+s3MultipartUploadDoc, bytes.NewReader(doc)); err != nil {
		q.fail(err)
		return
	}
	s.d.Audit(EventUploadStarted, "tenant", q.tenant, "session", q.id, "addr", q.r.RemoteAddr, "protocol", "s3",
		"file", name, "multipart_upload", id)
	q.writeXML(http.StatusOK, initiateMultipartUploadResult{Xmlns: s3Namespace, Bucket: q.tenant, Key: "upload/" + name, UploadID: id})
}

// partSizes returns the size of every stored part of an upload.
func (s *S3Server) partSizes(ctx context.Context, tenant, id string) (map[int]int64, error) {
	dir := multipartDir(tenant, id)
	out := map[int]int64{}
	for info, err := range s.d.Store.List(ctx, dir+"part-") {
		if err != nil {
			return nil, err
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(info.Key, dir+"part-")); err == nil {
			out[n] = info.Size
		}
	}
	return out, nil
}

// sniffingReader holds back the first bytes of part 1 until they show an
// age or OpenPGP message: plaintext is refused before any of it is stored.
type sniffingReader struct {
	r    io.Reader
	head []byte
	done bool
}

func (s *sniffingReader) Read(p []byte) (int, error) {
	if !s.done {
		s.done = true
		head := make([]byte, crypto.SniffLen)
		n, err := io.ReadFull(s.r, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if n > 0 && crypto.DetectFormat(head[:n]) == crypto.FormatUnknown {
			return 0, delivery.ErrNotEncrypted
		}
		s.head = head[:n]
	}
	if len(s.head) > 0 {
		n := copy(p, s.head)
		s.head = s.head[n:]
		return n, nil
	}
	return s.r.Read(p)
}

// recordingReader remembers the first error of r other than io.EOF.
type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && r.err == nil {
		r.err = err
	}
	return n, err
}

func (s *S3Server) uploadPart(q *s3Request, name string, nameOK bool, id, number string) {
	ctx := q.r.Context()
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 || n > s3MaxPartNumber {
		q.fail(errS3BadPartNumber)
		return
	}
	size, err := q.payloadSize()
	if err != nil {
		q.fail(err)
		return
	}
	max := int64(s.d.Limits.MaxFileSize)
	if size > s3MaxPartSize || max > 0 && size > max {
		q.fail(q.refusalError(name, delivery.ErrTooLarge))
		return
	}
	if _, err := s.openMultipart(ctx, q, name, nameOK, id); err != nil {
		q.fail(err)
		return
	}
	body, err := q.body(size)
	if err != nil {
		q.fail(err)
		return
	}
	if !q.openSession() {
		return
	}
	defer s.d.CloseSession(q.tenant)
	dir := multipartDir(q.tenant, id)
	defer s.hold(dir)()
	// The parts stored so far and this one must fit in a file.
	sizes, err := s.partSizes(ctx, q.tenant, id)
	if err != nil {
		q.fail(err)
		return
	}
	total := size
	for pn, sz := range sizes {
		if pn != n {
			total += sz
		}
	}
	if max > 0 && total > max {
		q.fail(q.refusalError(name, delivery.ErrTooLarge))
		return
	}
	var src io.Reader = body
	if n == 1 {
		src = &sniffingReader{r: body}
	}
	rec := &recordingReader{r: src}
	key := partKey(q.tenant, id, n)
	if err := s.d.Store.Put(ctx, key, rec); err != nil {
		q.fail(q.refusalError(name, cmpErr(rec.err, err))) // the body's failure, else the store's
		return
	}
	meta, _ := json.Marshal(partMeta{Size: body.n, MD5: hex.EncodeToString(body.md5.Sum(nil))})
	if err := s.d.Store.Put(context.WithoutCancel(ctx), key+".json", bytes.NewReader(meta)); err != nil {
		s.d.Store.Delete(context.WithoutCancel(ctx), key)
		q.fail(err)
		return
	}
	// Aborted (or expired) while the part came in: leave nothing behind.
	if _, err := s.openMultipart(context.WithoutCancel(ctx), q, name, nameOK, id); err != nil {
		s.d.Store.Delete(context.WithoutCancel(ctx), key)
		s.d.Store.Delete(context.WithoutCancel(ctx), key+".json")
		q.fail(err)
		return
	}
	q.w.Header().Set("ETag", body.etag())
	body.echoChecksums(q.w.Header(), q.r.Header)
	q.rc.SetWriteDeadline(time.Now().Add(s.bodyTimeout))
	q.w.WriteHeader(http.StatusOK)
}

// readPartMeta reads part n's size and MD5.
func (s *S3Server) readPartMeta(ctx context.Context, tenant, id string, n int) (partMeta, error) {
	b, err := store.ReadAll(ctx, s.d.Store, partKey(tenant, id, n)+".json", 4<<10)
	if err != nil {
		return partMeta{}, err
	}
	var m partMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return partMeta{}, fmt.Errorf("part %d of multipart upload %s: %w", n, id, err)
	}
	return m, nil
}

// normalizeETag strips the quotes of an entity tag.
func normalizeETag(e string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(e), `"`))
}

// assembledPart is a part as it goes into the delivery.
type assembledPart struct {
	number int
	meta   partMeta
}

func (s *S3Server) completeMultipartUpload(q *s3Request, name string, nameOK bool, id string) {
	ctx := q.r.Context()
	if _, err := s.openMultipart(ctx, q, name, nameOK, id); err != nil {
		q.fail(err)
		return
	}
	doc, err := io.ReadAll(io.LimitReader(q.auth.Body, s3MaxCompleteBody+1))
	if err != nil {
		q.fail(q.refusalError(name, err))
		return
	}
	var req completeMultipartUpload
	if len(doc) > s3MaxCompleteBody || xml.Unmarshal(doc, &req) != nil || len(req.Parts) == 0 {
		q.fail(errMalformedXML)
		return
	}
	// The list first, then the parts it names, then their sizes.
	for i, p := range req.Parts {
		switch {
		case p.PartNumber < 1 || p.PartNumber > s3MaxPartNumber:
			q.fail(errS3BadPartNumber)
			return
		case i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber:
			q.fail(errInvalidPartOrder)
			return
		}
	}
	if req.Parts[0].PartNumber != 1 {
		q.fail(errS3FirstPart)
		return
	}
	var parts []assembledPart
	for _, p := range req.Parts {
		m, err := s.readPartMeta(ctx, q.tenant, id, p.PartNumber)
		if errors.Is(err, store.ErrNotExist) || err == nil && normalizeETag(p.ETag) != m.MD5 {
			q.fail(errInvalidPart)
			return
		}
		if err != nil {
			q.fail(err)
			return
		}
		parts = append(parts, assembledPart{number: p.PartNumber, meta: m})
	}
	var total int64
	for i, p := range parts {
		if i < len(parts)-1 && p.meta.Size < s3MinPartSize {
			q.fail(errEntityTooSmall)
			return
		}
		total += p.meta.Size
	}
	if max := int64(s.d.Limits.MaxFileSize); max > 0 && total > max {
		q.fail(q.refusalError(name, delivery.ErrTooLarge))
		return
	}
	dir := multipartDir(q.tenant, id)
	s.mu.Lock()
	if s.completing[dir] {
		s.mu.Unlock()
		q.fail(errS3Conflict)
		return
	}
	s.completing[dir] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.completing, dir)
		s.mu.Unlock()
	}()
	defer s.hold(dir)()
	if !q.openSession() {
		return
	}
	defer s.d.CloseSession(q.tenant)

	// The ETag S3 gives a multipart object: the MD5 of the parts' MD5s.
	all := md5.New()
	for _, p := range parts {
		b, _ := hex.DecodeString(p.meta.MD5)
		all.Write(b)
	}
	etag := fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(all.Sum(nil)), len(parts))

	// Assembling a large file takes a while: past the keepalive interval
	// the answer is 200 at once, then white space now and then, then the
	// result or the error document (as S3 does; the SDKs read an error in
	// a 200 answer to this operation).
	done := make(chan error, 1)
	go func() { done <- s.assemble(context.WithoutCancel(ctx), q, name, id, etag, parts) }()
	tick := time.NewTicker(s.keepalive)
	defer tick.Stop()
	started := false
	for {
		select {
		case err := <-done:
			result := completeMultipartUploadResult{Xmlns: s3Namespace, Location: "/" + q.tenant + "/upload/" + name,
				Bucket: q.tenant, Key: "upload/" + name, ETag: etag}
			switch {
			case err != nil && !started:
				q.fail(err)
			case err != nil:
				var e *s3Error
				if !errors.As(err, &e) {
					e = errInternal
				}
				b, _ := xml.Marshal(q.errorDoc(e))
				q.rc.SetWriteDeadline(time.Now().Add(s.bodyTimeout))
				q.w.Write(b)
			case !started:
				q.writeXML(http.StatusOK, result)
			default:
				b, _ := xml.Marshal(result)
				q.rc.SetWriteDeadline(time.Now().Add(s.bodyTimeout))
				q.w.Write(b)
			}
			return
		case <-tick.C:
			q.rc.SetWriteDeadline(time.Now().Add(s.bodyTimeout))
			if !started {
				started = true
				q.w.Header().Set("Content-Type", "application/xml")
				q.w.WriteHeader(http.StatusOK)
				io.WriteString(q.w, xml.Header)
			}
			io.WriteString(q.w, " ")
			q.rc.Flush()
		}
	}
}

// assemble streams the parts into one drop-zone upload and commits it as a
// delivery; then the multipart upload is removed. A refusal (plaintext, too
// large) removes it too; after any other failure it stays, for a retry.
// The error returned is what the client is told.
func (s *S3Server) assemble(ctx context.Context, q *s3Request, name, id, etag string, parts []assembledPart) error {
	sess := q.session()
	u, err := s.d.StartUpload(ctx, sess, name)
	if err != nil {
		return q.refusalError(name, err)
	}
	pr := &partsReader{ctx: ctx, st: s.d.Store, tenant: q.tenant, id: id, parts: parts}
	defer pr.close()
	readErr, writeErr := copyInto(io.NewOffsetWriter(u, 0), pr)
	if err := cmpErr(readErr, writeErr); err != nil {
		u.Abort(err)
		return s.completeFailed(ctx, q, name, id, err)
	}
	p, err := u.Finish()
	if err != nil {
		return s.completeFailed(ctx, q, name, id, err)
	}
	p.SetS3ETag(etag)
	m, err := s.d.CommitUpload(ctx, sess, p, name)
	if err != nil {
		return s.completeFailed(ctx, q, name, id, err)
	}
	s.remember(q.tenant, name, m.Size, etag)
	if err := s.removeMultipart(ctx, q.tenant, id); err != nil {
		s.log.Error("remove completed multipart upload", "tenant", q.tenant, "session", q.id, "upload_id", id, "err", err)
	}
	return nil
}

func (s *S3Server) completeFailed(ctx context.Context, q *s3Request, name, id string, err error) error {
	var r *delivery.Refusal
	if errors.As(err, &r) {
		if rerr := s.removeMultipart(ctx, q.tenant, id); rerr != nil {
			s.log.Error("remove refused multipart upload", "tenant", q.tenant, "session", q.id, "upload_id", id, "err", rerr)
		}
	}
	return q.refusalError(name, err)
}

// partsReader reads the parts of an upload one after the other, one open
// at a time, and checks each against its size and MD5 as it ends.
type partsReader struct {
	ctx    context.Context
	st     store.Store
	tenant string
	id     string
	parts  []assembledPart

	cur  io.ReadCloser
	md5  hash.Hash
	n    int64
	next int
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			if p.next == len(p.parts) {
				return 0, io.EOF
			}
			rc, err := p.st.Get(p.ctx, partKey(p.tenant, p.id, p.parts[p.next].number))
			if errors.Is(err, store.ErrNotExist) {
				return 0, errS3PartChanged
			}
			if err != nil {
				return 0, err
			}
			p.cur, p.md5, p.n = rc, md5.New(), 0
		}
		n, err := p.cur.Read(b)
		p.n += int64(n)
		p.md5.Write(b[:n])
		if errors.Is(err, io.EOF) {
			want := p.parts[p.next].meta
			p.cur.Close()
			p.cur = nil
			p.next++
			if p.n != want.Size || hex.EncodeToString(p.md5.Sum(nil)) != want.MD5 {
				return n, errS3PartChanged
			}
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (p *partsReader) close() {
	if p.cur != nil {
		p.cur.Close()
	}
}

// removeMultipart deletes every object of a multipart upload, upload.json
// last (while it exists the upload is listed, and the janitor finds it).
func (s *S3Server) removeMultipart(ctx context.Context, tenant, id string) error {
	dir := multipartDir(tenant, id)
	var keys []string
	for info, err := range s.d.Store.List(ctx, dir) {
		if err != nil {
			return err
		}
		keys = append(keys, info.Key)
	}
	return s.deleteKeys(ctx, dir, keys)
}

func (s *S3Server) deleteKeys(ctx context.Context, dir string, keys []string) error {
	var errs []error
	doc := dir + s3MultipartUploadDoc
	for _, k := range keys {
		if k != doc {
			if err := s.d.Store.Delete(ctx, k); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 && slices.Contains(keys, doc) {
		errs = append(errs, s.d.Store.Delete(ctx, doc))
	}
	return errors.Join(errs...)
}

func (s *S3Server) abortMultipartUpload(q *s3Request, name string, nameOK bool, id string) {
	ctx := q.r.Context()
	if _, err := s.openMultipart(ctx, q, name, nameOK, id); err != nil {
		q.fail(err)
		return
	}
	dir := multipartDir(q.tenant, id)
	s.mu.Lock()
	completing := s.completing[dir]
	s.mu.Unlock()
	if completing {
		q.fail(errS3Conflict)
		return
	}
	if err := s.removeMultipart(context.WithoutCancel(ctx), q.tenant, id); err != nil {
		q.fail(err)
		return
	}
	s.d.Audit(EventUploadAborted, "tenant", q.tenant, "session", q.id, "addr", q.r.RemoteAddr, "protocol", "s3",
		"file", name, "multipart_upload", id, "reason", "multipart_aborted")
	q.rc.SetWriteDeadline(time.Now().Add(s.bodyTimeout))
	q.w.WriteHeader(http.StatusNoContent)
}

func (s *S3Server) listMultipartUploads(q *s3Request) {
	ctx := q.r.Context()
	query := q.r.URL.Query()
	maxUploads := 1000
	if v := query.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			q.fail(&s3Error{Code: "InvalidArgument", Message: "max-uploads must be a number of 0 or more.", Status: http.StatusBadRequest})
			return
		}
		maxUploads = min(n, 1000)
	}
	prefix, keyMarker, idMarker := query.Get("prefix"), query.Get("key-marker"), query.Get("upload-id-marker")
	ups, err := s.multipartUploads(ctx, q.tenant)
	if err != nil {
		q.fail(err)
		return
	}
	owner := xmlOwner{ID: q.tenant, DisplayName: q.tenant}
	var all []xmlUpload
	for id := range ups {
		b, err := store.ReadAll(ctx, s.d.Store, multipartDir(q.tenant, id)+s3MultipartUploadDoc, 64<<10)
		if errors.Is(err, store.ErrNotExist) {
			continue // completed or aborted meanwhile
		}
		if err != nil {
			q.fail(err)
			return
		}
		var m multipartUpload
		if json.Unmarshal(b, &m) != nil || !strings.HasPrefix(m.Key, prefix) {
			continue
		}
		all = append(all, xmlUpload{Key: m.Key, UploadID: id, Initiator: owner, Owner: owner,
			StorageClass: "STANDARD", Initiated: s3Time(m.Initiated)})
	}
	slices.SortFunc(all, func(a, b xmlUpload) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Initiated, b.Initiated), strings.Compare(a.UploadID, b.UploadID))
	})
	res := listMultipartUploadsResult{Xmlns: s3Namespace, Bucket: q.tenant, KeyMarker: keyMarker, UploadIDMarker: idMarker,
		Prefix: prefix, MaxUploads: maxUploads}
	for _, u := range all {
		if u.Key < keyMarker || u.Key == keyMarker && (idMarker == "" || u.UploadID <= idMarker) {
			continue
		}
		if len(res.Uploads) == maxUploads {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, u)
	}
	if res.IsTruncated && len(res.Uploads) > 0 {
		last := res.Uploads[len(res.Uploads)-1]
		res.NextKeyMarker, res.NextUploadIDMarker = last.Key, last.UploadID
	}
	q.writeXML(http.StatusOK, res)
}

func (s *S3Server) listParts(q *s3Request, name string, nameOK bool, id string) {
	ctx := q.r.Context()
	query := q.r.URL.Query()
	if _, err := s.openMultipart(ctx, q, name, nameOK, id); err != nil {
		q.fail(err)
		return
	}
	maxParts, marker := s3MaxListParts, 0
	for _, p := range []struct {
		param string
		v     *int
	}{{"max-parts", &maxParts}, {"part-number-marker", &marker}} {
		if v := query.Get(p.param); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				q.fail(&s3Error{Code: "InvalidArgument", Message: p.param + " must be a number of 0 or more.", Status: http.StatusBadRequest})
				return
			}
			*p.v = n
		}
	}
	maxParts = min(maxParts, s3MaxListParts)
	dir := multipartDir(q.tenant, id)
	owner := xmlOwner{ID: q.tenant, DisplayName: q.tenant}
	res := listPartsResult{Xmlns: s3Namespace, Bucket: q.tenant, Key: "upload/" + name, UploadID: id, Initiator: owner,
		Owner: owner, StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts}
	for info, err := range s.d.Store.List(ctx, dir+"part-") {
		if err != nil {
			q.fail(err)
			return
		}
		num, ok := strings.CutSuffix(strings.TrimPrefix(info.Key, dir+"part-"), ".json")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		m, err := s.readPartMeta(ctx, q.tenant, id, n)
		if errors.Is(err, store.ErrNotExist) {
			continue
		}
		if err != nil {
			q.fail(err)
			return
		}
		res.Parts = append(res.Parts, xmlPart{PartNumber: n, LastModified: s3Time(info.ModTime), ETag: `"` + m.MD5 + `"`, Size: m.Size})
		res.NextPartNumberMarker = n
	}
	q.writeXML(http.StatusOK, res)
}

// janitor removes expired multipart uploads until ctx ends: once at start
// (what a stopped gateway left) and then every quarter of the expiry, at
// most every 15 minutes.
func (s *S3Server) janitor(ctx context.Context) {
	defer close(s.janitorDone)
	every := min(max(s.expiry/4, 100*time.Millisecond), 15*time.Minute)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.sweepMultipart(ctx)
		t.Reset(every)
	}
}

// sweepMultipart removes the multipart uploads that began more than the
// expiry ago, and parts left without their upload.json (an upload aborted
// while a part came in) once they are as old.
func (s *S3Server) sweepMultipart(ctx context.Context) {
	type upload struct {
		keys    []string
		began   time.Time // upload.json's time
		newest  time.Time
		started bool
	}
	ups := map[string]*upload{}
	var dirs []string
	for info, err := range s.d.Store.List(ctx, "multipart/") {
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("multipart janitor: list", "err", err)
			}
			return
		}
		seg := strings.SplitN(info.Key, "/", 4)
		if len(seg) != 4 {
			continue
		}
		dir := strings.Join(seg[:3], "/") + "/"
		u := ups[dir]
		if u == nil {
			u = &upload{}
			ups[dir] = u
			dirs = append(dirs, dir)
		}
		u.keys = append(u.keys, info.Key)
		if seg[3] == s3MultipartUploadDoc {
			u.began, u.started = info.ModTime, true
		}
		if info.ModTime.After(u.newest) {
			u.newest = info.ModTime
		}
	}
	now := s.d.now()
	for _, dir := range dirs {
		u := ups[dir]
		age := now.Sub(u.newest)
		if u.started {
			age = now.Sub(u.began)
		}
		s.mu.Lock()
		busy := s.busy[dir] > 0
		s.mu.Unlock()
		if age <= s.expiry || busy || ctx.Err() != nil {
			continue
		}
		if err := s.deleteKeys(context.WithoutCancel(ctx), dir, u.keys); err != nil {
			s.log.Error("multipart janitor: remove", "err", err)
			continue
		}
		seg := strings.Split(dir, "/")
		s.d.Audit(EventUploadAborted, "tenant", seg[1], "protocol", "s3", "multipart_upload", seg[2],
			"reason", "multipart_expired")
	}
}
