package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Part sizes of multipart uploads. S3 requires at least 5 MiB for every part
// but the last and allows at most 10,000 parts, so the part size bounds the
// largest object: 16 MiB parts allow objects of 156 GiB.
const (
	MinPartSize     = 5 << 20
	MaxPartSize     = 5 << 30
	DefaultPartSize = 16 << 20
	maxParts        = 10000
)

// Network timeouts of the S3 store. Every read and write on a connection
// must make progress within ioTimeout, so a stalled server or network fails a
// request instead of hanging it.
const (
	dialTimeout   = 10 * time.Second
	ioTimeout     = 2 * time.Minute
	abortTimeout  = 30 * time.Second
	listPageSize  = 1000
	openCheckWait = 15 * time.Second
	keptBuffers   = 4 // part buffers kept for reuse between uploads
	smallObject   = 64 << 10
)

// S3Options configures an S3 store.
type S3Options struct {
	// Endpoint is host:port of the S3 service, e.g. "s3.eu-central-1.amazonaws.com"
	// or "127.0.0.1:9000" for MinIO.
	Endpoint string
	Bucket   string
	// Prefix, when set, places every key under Prefix + "/" in the bucket, so
	// several stores can share one bucket. It obeys the rules of ValidateKey.
	Prefix string
	Region string
	// Secure selects HTTPS. TLS is verified against the system roots, or
	// TLSConfig's when it is set.
	Secure    bool
	TLSConfig *tls.Config
	AccessKey string
	SecretKey string
	// PartSize is the size of multipart upload parts, MinPartSize to
	// MaxPartSize (DefaultPartSize when 0). One upload holds one part in
	// memory.
	PartSize int64
}

// S3 is a Store in an S3 bucket (AWS S3, MinIO, or any service with S3's
// conditional writes). Key "a/b" is object Prefix/a/b.
//
// An object is written with one PUT when it fits in one part, else as a
// multipart upload that becomes visible when it is completed; both are atomic
// in S3, so readers see the old object or the whole new one. A failed or
// cancelled upload is aborted, and the bucket's lifecycle rule for incomplete
// multipart uploads removes what a crashed process leaves. Create sends
// If-None-Match: * so that the service, not a read before the write, decides
// which of several concurrent writers wins. Every part is sent with its
// SHA-256 in the signed request, so the service refuses a part that was
// altered on the way.
type S3 struct {
	core     minio.Core
	bucket   string
	prefix   string // "" or "p/"
	partSize int64
	// bufs keeps a few part buffers for reuse. Not a sync.Pool: the GC
	// (and the race detector) empty those at will, and a part buffer is
	// megabytes.
	bufs chan []byte
}

var _ Store = (*S3)(nil)

// NewS3 connects to the bucket and checks that it exists and is reachable
// with the credentials. It never creates a bucket: that is a deployment
// decision (region, encryption, versioning, lifecycle).
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, errors.New("open S3 store: endpoint and bucket are required")
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return nil, errors.New("open S3 store: access key and secret key are required")
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > MaxPartSize {
		return nil, fmt.Errorf("open S3 store: part size %d is outside %d to %d bytes", o.PartSize, MinPartSize, MaxPartSize)
	}
	prefix := ""
	if o.Prefix != "" {
		if err := ValidateKey(o.Prefix); err != nil {
			return nil, fmt.Errorf("open S3 store: prefix: %w", err)
		}
		prefix = o.Prefix + "/"
	}
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:    o.Secure,
		Region:    o.Region,
		Transport: newS3Transport(o.TLSConfig),
	})
	if err != nil {
		return nil, fmt.Errorf("open S3 store: %w", err)
	}
	s := &S3{core: minio.Core{Client: client}, bucket: o.Bucket, prefix: prefix, partSize: o.PartSize,
		bufs: make(chan []byte, keptBuffers)}

	cctx, cancel := context.WithTimeout(ctx, openCheckWait)
	defer cancel()
	ok, err := client.BucketExists(cctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("open S3 store: bucket %s at %s: %w", o.Bucket, o.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("open S3 store: bucket %s does not exist at %s", o.Bucket, o.Endpoint)
	}
	return s, nil
}

// newS3Transport is an HTTP transport whose connections time out reads and
// writes that make no progress, with TLS 1.2 or later.
func newS3Transport(tc *tls.Config) *http.Transport {
	if tc == nil {
		tc = &tls.Config{}
	} else {
		tc = tc.Clone()
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &deadlineConn{Conn: c}, nil
		},
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: ioTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
	}
}

// deadlineConn gives every Read and Write ioTimeout to make progress.
type deadlineConn struct{ net.Conn }

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(ioTimeout))
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	return c.Conn.Write(p)
}

func (s *S3) object(key string) string { return s.prefix + key }

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) error {
	if err := s.upload(ctx, key, r, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("store put %s: %w", key, err)
	}
	return nil
}

// Create implements Store with a conditional write (If-None-Match: *).
func (s *S3) Create(ctx context.Context, key string, r io.Reader) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("store create: %w", err)
	}
	// Spare the upload when the answer is known; the condition decides.
	if _, err := s.Stat(ctx, key); err == nil {
		return fmt.Errorf("store create %s: %w", key, ErrExist)
	}
	var opts minio.PutObjectOptions
	opts.SetMatchETagExcept("*")
	if err := s.upload(ctx, key, r, opts); err != nil {
		return fmt.Errorf("store create %s: %w", key, err)
	}
	return nil
}

// Replace stores r under key only if the object there is still the version
// that etag names (If-Match). ErrChanged if it is not, or is gone.
func (s *S3) Replace(ctx context.Context, key string, r io.Reader, etag string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("store replace: %w", err)
	}
	if etag == "" {
		return fmt.Errorf("store replace %s: %w", key, ErrChanged)
	}
	var opts minio.PutObjectOptions
	opts.SetMatchETag(etag)
	if err := s.upload(ctx, key, r, opts); err != nil {
		if errors.Is(err, ErrExist) || errors.Is(err, ErrNotExist) {
			err = ErrChanged
		}
		return fmt.Errorf("store replace %s: %w", key, err)
	}
	return nil
}

// upload writes r to key: in one PUT when it fits in a part, else as a
// multipart upload. Nothing becomes visible unless r reaches EOF without
// error and ctx is live.
func (s *S3) upload(ctx context.Context, key string, r io.Reader, opts minio.PutObjectOptions) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	// Most objects (metadata, ledger entries, reports) are small: they are
	// read into a small buffer, and only a larger one takes a part buffer.
	buf := make([]byte, smallObject)
	n, eof, err := fill(ctx, r, buf)
	if err != nil {
		return err
	}
	if !eof {
		part := s.buffer()
		defer s.release(part)
		copy(part, buf[:n])
		m, e, err := fill(ctx, r, part[n:])
		if err != nil {
			return err
		}
		buf, n, eof = part, n+m, e
	}
	// The payload's SHA-256 goes in the signed headers; no aws-chunked
	// streaming signature, which costs an allocation per chunk.
	opts.DisableContentSha256 = true
	// Every write carries a token of its own, so that a write whose answer
	// was lost can be recognised: minio-go retries a request whose answer
	// did not come, and the retry of a conditional write that succeeded
	// fails its condition (412), of a completed multipart upload with
	// NoSuchUpload.
	token := rand.Text()
	opts.UserMetadata = map[string]string{writeTokenMeta: token}
	if eof {
		sum := sha256.Sum256(buf[:n])
		_, err = s.core.PutObject(ctx, s.bucket, s.object(key), bytes.NewReader(buf[:n]), int64(n), "", hex.EncodeToString(sum[:]), opts)
	} else {
		err = s.multipart(ctx, key, r, buf, n, opts)
	}
	if err != nil && ctx.Err() == nil && s.wrote(ctx, key, token) {
		return nil
	}
	return s3Error(err)
}

// writeTokenMeta is the user metadata that names the write of an object.
const writeTokenMeta = "ttpgate-write"

// wrote reports whether the object under key is the one the write with
// token stored.
func (s *S3) wrote(ctx context.Context, key, token string) bool {
	oi, err := s.core.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		return false
	}
	for k, v := range oi.UserMetadata {
		if strings.EqualFold(strings.TrimPrefix(strings.ToLower(k), "x-amz-meta-"), writeTokenMeta) && v == token {
			return true
		}
	}
	return false
}

// buffer returns a part buffer, a kept one if there is one.
func (s *S3) buffer() []byte {
	select {
	case b := <-s.bufs:
		return b
	default:
		return make([]byte, s.partSize)
	}
}

// release keeps b for reuse, unless enough are kept.
func (s *S3) release(b []byte) {
	select {
	case s.bufs <- b:
	default:
	}
}

// multipart uploads the first part, already in buf[:n], and the rest of r.
// It aborts the upload on any failure.
func (s *S3) multipart(ctx context.Context, key string, r io.Reader, buf []byte, n int, opts minio.PutObjectOptions) (err error) {
	obj := s.object(key)
	// Metadata is given at the start of an upload, conditions at its
	// completion.
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, obj, minio.PutObjectOptions{UserMetadata: opts.UserMetadata})
	if err != nil {
		return s3Error(err)
	}
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		// Should the abort fail, the upload stays invisible and the
		// bucket's lifecycle rule for incomplete uploads removes it.
		s.core.AbortMultipartUpload(actx, s.bucket, obj, id)
	}()

	var parts []minio.CompletePart
	for num, eof := 1, false; ; num++ {
		if num > maxParts {
			return fmt.Errorf("larger than %d parts of %d bytes", maxParts, s.partSize)
		}
		sum := sha256.Sum256(buf[:n])
		p, err := s.core.PutObjectPart(ctx, s.bucket, obj, id, num, bytes.NewReader(buf[:n]), int64(n),
			minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(sum[:]), DisableContentSha256: true})
		if err != nil {
			return s3Error(err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		if eof {
			break
		}
		// fill returns a short part only at the end of r.
		if n, eof, err = fill(ctx, r, buf); err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	opts.UserMetadata = nil
	_, err = s.core.CompleteMultipartUpload(ctx, s.bucket, obj, id, parts, opts)
	return err
}

// fill reads r into buf until buf is full or r ends. eof reports that r
// ended (possibly with buf full). It checks ctx between reads, so a
// cancelled upload stops within one read.
func fill(ctx context.Context, r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, false, err
		}
		m, rerr := r.Read(buf[n:])
		n += m
		if rerr == io.EOF {
			return n, true, ctx.Err()
		}
		if rerr != nil {
			return n, false, fmt.Errorf("read: %w", rerr)
		}
	}
	return n, false, ctx.Err()
}

// Get implements Store. The object is streamed: the reader holds no more
// than the HTTP client's buffers.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("store get: %w", err)
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, s.object(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("store get %s: %w", key, s3Error(err))
	}
	return rc, nil
}

// Stat implements Store. Info.ETag is the object's ETag, for Replace.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, fmt.Errorf("store stat: %w", err)
	}
	oi, err := s.core.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		return Info{}, fmt.Errorf("store stat %s: %w", key, s3Error(err))
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified, ETag: strings.Trim(oi.ETag, `"`)}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("store delete: %w", err)
	}
	err := s.core.RemoveObject(ctx, s.bucket, s.object(key), minio.RemoveObjectOptions{})
	if err = s3Error(err); err != nil && !errors.Is(err, ErrNotExist) {
		return fmt.Errorf("store delete %s: %w", key, err)
	}
	return nil
}

// List implements Store with ListObjectsV2, a page of keys at a time. S3
// lists keys in ascending byte order of their UTF-8 encoding, as the
// contract asks. Objects whose names are no valid key (put in the bucket by
// something else) are skipped.
func (s *S3) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if !canPrefix(prefix) {
			return
		}
		opts := minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true, MaxKeys: listPageSize}
		for o := range s.core.Client.ListObjectsIter(ctx, s.bucket, opts) {
			if o.Err != nil {
				yield(Info{}, fmt.Errorf("store list %q: %w", prefix, s3Error(o.Err)))
				return
			}
			key, ok := strings.CutPrefix(o.Key, s.prefix)
			if !ok || ValidateKey(key) != nil {
				continue
			}
			if !yield(Info{Key: key, Size: o.Size, ModTime: o.LastModified, ETag: strings.Trim(o.ETag, `"`)}, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(Info{}, fmt.Errorf("store list %q: %w", prefix, err))
		}
	}
}

// canPrefix reports whether some valid key starts with prefix.
func canPrefix(prefix string) bool {
	return prefix == "" || ValidateKey(prefix) == nil || ValidateKey(prefix+"x") == nil
}

// s3Error maps S3 error codes to the store's sentinels: a missing key to
// ErrNotExist, a failed condition to ErrExist (Create and Replace say what
// it means for them). AWS answers 409 ConditionalRequestConflict when
// conditional writes of one key race: another writer is winning.
func s3Error(err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NotFound" || resp.StatusCode == http.StatusNotFound && resp.Code == "":
		return fmt.Errorf("%w (%s)", ErrNotExist, resp.Code)
	case resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed ||
		resp.Code == "ConditionalRequestConflict":
		return fmt.Errorf("%w (%s)", ErrExist, resp.Code)
	}
	return err
}
