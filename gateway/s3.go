package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
)

// The drop-zone as an S3 client sees it: one bucket per tenant, named by the
// tenant id, addressed path-style (https://host:port/<bucket>/<key>).
//
//	upload/NAME   PutObject and multipart uploads of new files (NAME as the
//	              drop-zone's naming rule says); each completed upload is one
//	              delivery. Nothing there is ever read or listed back;
//	              HeadObject finds only a file the tenant uploaded through
//	              this gateway within the last hour (rclone checks its
//	              uploads so, as SFTP clients stat a file just written).
//	outbox/NAME   GetObject, HeadObject and listing of the tenant's feedback
//	              reports.
//
// The bucket itself answers HeadBucket, GetBucketLocation, ListObjectsV2
// (and version 1, for s3cmd and rclone), ListMultipartUploads, and a
// CreateBucket of itself with BucketAlreadyOwnedByYou (what rclone wants);
// ListBuckets lists the tenant's own bucket only. A listing shows only
// outbox/ objects, whatever its prefix: a prefix outside outbox/ lists
// nothing (it is not an error), and without a prefix the delimiter "/" rolls
// them up into the common prefix "outbox/". Every other request, and every
// request for another tenant's bucket (whether it exists or not), answers
// AccessDenied.
//
// Every request is authenticated (AWS Signature Version 4, in headers or a
// presigned URL) before anything else happens; a request from a banned
// address is refused before that. Every response carries x-amz-request-id;
// errors are S3's XML error document with fixed messages. The request id is
// the session id of the audit events and error log lines the request causes.

// S3 limits the configuration does not name.
const (
	s3MaxHeaderBytes    = 64 << 10
	s3ReadHeaderTimeout = 10 * time.Second
	s3IdleTimeout       = 60 * time.Second
	s3BodyTimeout       = 60 * time.Second // longest wait for the next bytes of a body, or for a client to take a response
	s3KeepaliveInterval = 10 * time.Second // CompleteMultipartUpload: whitespace while the parts are assembled
	s3MaxConnections    = 512
	s3MaxConnsPerAddr   = 64
	s3CopyBufferSize    = 256 << 10
	s3MaxListKeys       = 1000
	s3DefaultExpiry     = 24 * time.Hour
	s3RecentUploadTTL   = time.Hour // HeadObject finds an upload this long
	s3MaxRecentUploads  = 4096
	s3MaxHeadLookups    = 256 // deliveries HeadObject reads in the store
)

// S3CipherSuites are the TLS 1.2 cipher suites offered: ECDHE key exchange
// and AEAD ciphers only. TLS 1.3 suites are not configurable (all AEAD).
var S3CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Errors of the endpoint besides the shared S3 ones.
var (
	errS3SlowDown     = &s3Error{Code: "SlowDown", Message: "Too many requests of this tenant in progress; retry later.", Status: http.StatusServiceUnavailable}
	errS3Unavailable  = &s3Error{Code: "ServiceUnavailable", Message: "The server is shutting down; retry later.", Status: http.StatusServiceUnavailable}
	errS3Timeout      = &s3Error{Code: "RequestTimeout", Message: "Your socket connection to the server was not read from or written to within the timeout period.", Status: http.StatusBadRequest}
	errS3Incomplete   = &s3Error{Code: "IncompleteBody", Message: "You did not provide the number of bytes specified by the Content-Length or x-amz-decoded-content-length HTTP header.", Status: http.StatusBadRequest}
	errS3Conflict     = &s3Error{Code: "OperationAborted", Message: "A conflicting operation is in progress on this multipart upload; try again.", Status: http.StatusConflict}
	errS3OwnBucket    = &s3Error{Code: "BucketAlreadyOwnedByYou", Message: "Your bucket exists already: it is your drop-zone.", Status: http.StatusConflict}
	errS3BadName      = &s3Error{Code: "InvalidArgument", Message: "Object key must be upload/NAME where " + delivery.ErrBadName.Message + ".", Status: http.StatusBadRequest}
	errS3VirtualHost  = &s3Error{Code: "InvalidRequest", Message: "Virtual-hosted-style requests are not supported: use path-style addressing (https://host:port/BUCKET/KEY).", Status: http.StatusBadRequest}
	errS3Precondition = &s3Error{Code: "PreconditionFailed", Message: "At least one of the preconditions you specified did not hold.", Status: http.StatusPreconditionFailed}
	errS3InvalidRange = &s3Error{Code: "InvalidRange", Message: "The requested range is not satisfiable.", Status: http.StatusRequestedRangeNotSatisfiable}
)

// S3Options configures an S3Server.
type S3Options struct {
	// Region is the region clients sign for.
	Region string
	// CredentialSecret is the secret the tenants' secret keys are derived
	// from (DeriveS3Secret); see ReadS3CredentialSecret.
	CredentialSecret []byte
	// TLSCertFile and TLSKeyFile are the PEM certificate (chain) and its
	// private key (a key file: private to its owner). Required by Serve;
	// a server used only through Handler may go without.
	TLSCertFile, TLSKeyFile string
	// MultipartExpiry is how long a multipart upload may stay incomplete
	// before its parts are removed (default 24h).
	MultipartExpiry time.Duration
}

// S3Server serves the drop-zone over an S3-compatible HTTPS endpoint.
type S3Server struct {
	d       *Dropzone
	log     *slog.Logger
	region  string
	secret  []byte
	tls     *tls.Config
	expiry  time.Duration
	tenants map[string]string // access key id -> tenant id
	srv     *http.Server
	handler http.Handler

	// Timeouts; tests shorten them before serving.
	bodyTimeout time.Duration
	keepalive   time.Duration

	stopJanitor context.CancelFunc
	janitorDone chan struct{}

	creating sync.Mutex // serialises CreateMultipartUpload: the per-tenant count

	connInfo sync.Map // net.Conn -> *s3Conn, from ConnContext until the connection closes

	mu          sync.Mutex
	serving     bool // Serve has begun
	closing     bool
	conns       map[net.Conn]struct{}
	perAddr     map[string]int
	recent      map[string]*recentUpload // tenant/NAME -> its last upload, for HeadObject
	recentOrder []*recentUpload          // oldest first
	busy        map[string]int           // multipart upload dir -> requests working on it
	completing  map[string]bool          // multipart upload dir -> CompleteMultipartUpload in progress
	requests    sync.WaitGroup
}

// ReadS3CredentialSecret reads the file of the secret from which the
// tenants' S3 secret keys are derived: a key file (private to its owner)
// of at least 16 bytes; surrounding white space is no part of the secret.
func ReadS3CredentialSecret(path string) ([]byte, error) {
	b, err := crypto.ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) < 16 {
		return nil, fmt.Errorf("S3 credential secret %s: %d bytes, want at least 16", path, len(b))
	}
	return b, nil
}

// NewS3Server returns the S3 endpoint of d. It starts the janitor that
// removes expired multipart uploads: call Shutdown to stop it.
func NewS3Server(d *Dropzone, o S3Options) (*S3Server, error) {
	if o.Region == "" {
		return nil, errors.New("S3 endpoint: no region")
	}
	if len(o.CredentialSecret) < 16 {
		return nil, errors.New("S3 endpoint: credential secret missing or shorter than 16 bytes")
	}
	s := &S3Server{d: d, log: d.log.With("protocol", "s3"), region: o.Region, secret: bytes.Clone(o.CredentialSecret),
		expiry: o.MultipartExpiry, tenants: map[string]string{}, bodyTimeout: s3BodyTimeout, keepalive: s3KeepaliveInterval,
		conns: map[net.Conn]struct{}{}, perAddr: map[string]int{}, busy: map[string]int{}, completing: map[string]bool{},
		recent: map[string]*recentUpload{}}
	if s.expiry <= 0 {
		s.expiry = s3DefaultExpiry
	}
	for id, t := range d.Tenants {
		if t.S3AccessKey != "" {
			s.tenants[t.S3AccessKey] = id
		}
	}
	if o.TLSCertFile != "" || o.TLSKeyFile != "" {
		cert, err := loadCertificate(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, err
		}
		s.tls = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			CipherSuites: S3CipherSuites,
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"http/1.1"},
		}
	}
	s.handler = http.HandlerFunc(s.serveHTTP)
	var protocols http.Protocols
	protocols.SetHTTP1(true) // HTTP/2 is no use to S3 clients and more to defend
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s3ReadHeaderTimeout,
		IdleTimeout:       s3IdleTimeout,
		MaxHeaderBytes:    s3MaxHeaderBytes,
		Protocols:         &protocols,
		ConnState:         s.connState,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			sc := &s3Conn{id: newSessionID(), opened: time.Now()}
			s.connInfo.Store(c, sc)
			return context.WithValue(ctx, s3ConnKey{}, sc)
		},
		// TLS handshake failures and the like: the net/http server's own
		// messages, not for the error log of a public endpoint.
		ErrorLog: log.New(slogWriter{s.log}, "", 0),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopJanitor, s.janitorDone = cancel, make(chan struct{})
	go s.janitor(ctx)
	return s, nil
}

func loadCertificate(certFile, keyFile string) (tls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, errors.New("S3 endpoint: a TLS certificate needs both a certificate and a key file")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("S3 endpoint: TLS certificate: %w", err)
	}
	keyPEM, err := crypto.ReadKeyFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("S3 endpoint: TLS key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// X509KeyPair's messages never quote key material.
		return tls.Certificate{}, fmt.Errorf("S3 endpoint: TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// slogWriter passes the net/http server's log lines to slog at debug level.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("http server", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// Handler returns the endpoint's HTTP handler, for tests that serve it
// with net/http/httptest.
func (s *S3Server) Handler() http.Handler { return s.handler }

// Serve accepts TLS connections on ln until Shutdown; it then returns nil.
func (s *S3Server) Serve(ln net.Listener) error {
	if s.tls == nil {
		return errors.New("S3 endpoint: no TLS certificate configured")
	}
	s.mu.Lock()
	s.serving = true
	s.mu.Unlock()
	err := s.srv.Serve(tls.NewListener(ln, s.tls))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Accepting reports whether the endpoint accepts connections: Serve has
// begun and Shutdown has not.
func (s *S3Server) Accepting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving && !s.closing
}

// Shutdown stops accepting connections and requests, lets the requests in
// progress (uploads among them) finish until ctx ends, then aborts what is
// still running (an upload cut off leaves nothing behind) and closes every
// connection. Multipart uploads in progress stay in the store: a client may
// go on with them once the server is back. It returns ctx's error when it had
// to cut requests off.
func (s *S3Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.stopJanitor()
	<-s.janitorDone
	err := s.srv.Shutdown(ctx)
	if err != nil {
		// Requests still running: abort their uploads, then cut the
		// connections so that the handlers' reads and writes fail.
		s.d.WaitUploads(ctx)
		s.srv.Close()
	}
	s.requests.Wait()
	return err
}

// Connection limits, applied before the TLS handshake.

func (s *S3Server) connState(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		if !s.admit(c) {
			c.Close()
		}
	case http.StateClosed, http.StateHijacked:
		s.release(c)
	}
}

func (s *S3Server) admit(c net.Conn) bool {
	addr := c.RemoteAddr()
	s.mu.Lock()
	defer s.mu.Unlock()
	host := hostOf(addr)
	switch {
	case s.closing:
		return false
	case len(s.conns) >= s3MaxConnections:
		s.d.Audit(EventConnRefused, "addr", addr.String(), "protocol", "s3", "reason", "too_many_connections")
		return false
	case s.perAddr[host] >= s3MaxConnsPerAddr:
		s.d.Audit(EventConnRefused, "addr", addr.String(), "protocol", "s3", "reason", "too_many_connections_from_address")
		return false
	}
	s.conns[c] = struct{}{}
	s.perAddr[host]++
	return true
}

func (s *S3Server) release(c net.Conn) {
	if sc, ok := s.connInfo.LoadAndDelete(c); ok {
		s.sessionsClosed(c, sc.(*s3Conn))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return // never admitted
	}
	delete(s.conns, c)
	host := hostOf(c.RemoteAddr())
	if s.perAddr[host]--; s.perAddr[host] <= 0 {
		delete(s.perAddr, host)
	}
}

// s3Conn is what the server remembers of one connection: which access
// keys have been audited as authenticated on it (once per connection, as
// SFTP audits a login, not once per request).
type s3Conn struct {
	id     string
	opened time.Time
	mu     sync.Mutex
	authed map[string]bool
}

// sessionsClosed audits the end of a connection once for every access key
// that authenticated on it, as SFTP audits the end of a session.
func (s *S3Server) sessionsClosed(c net.Conn, sc *s3Conn) {
	sc.mu.Lock()
	keys := make([]string, 0, len(sc.authed))
	for k := range sc.authed {
		keys = append(keys, k)
	}
	sc.mu.Unlock()
	for _, k := range keys {
		s.d.Audit(EventDisconnect, "tenant", s.tenants[k], "conn", sc.id, "addr", c.RemoteAddr().String(), "protocol", "s3",
			"duration_ms", time.Since(sc.opened).Milliseconds())
	}
}

type s3ConnKey struct{}

// firstAuth reports whether accessKey authenticates on c for the first time.
func (c *s3Conn) firstAuth(accessKey string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authed[accessKey] {
		return false
	}
	if c.authed == nil {
		c.authed = map[string]bool{}
	}
	c.authed[accessKey] = true
	return true
}

// tcpAddr is a remote address as net/http gives it, for the ban count.
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

// s3Request is one request being served.
type s3Request struct {
	s      *S3Server
	w      http.ResponseWriter
	r      *http.Request
	rc     *http.ResponseController
	id     string
	auth   *s3Auth
	tenant string
	op     string // the S3 operation, for audit events and logs
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func (s *S3Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	defer s.requests.Done()
	q := &s3Request{s: s, w: w, r: r, rc: http.NewResponseController(w), id: newRequestID()}
	w.Header().Set("x-amz-request-id", q.id)
	w.Header().Set("Server", "ttpgate")
	// A deadline left over from the previous request on this connection
	// must not cut this one short; each write sets its own.
	q.rc.SetWriteDeadline(time.Time{})
	addr := tcpAddr(r.RemoteAddr)
	if s.d.Banned(addr) {
		s.d.Audit(EventConnRefused, "addr", r.RemoteAddr, "protocol", "s3", "session", q.id, "reason", "banned")
		q.fail(errAccessDenied)
		return
	}
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		w.Header().Set("Connection", "close")
		q.fail(errS3Unavailable)
		return
	}
	// Every read of the body must make progress within bodyTimeout: a
	// stalled upload ends instead of holding its resources.
	r.Body = &progressReader{r: r.Body, rc: q.rc, timeout: s.bodyTimeout}
	auth, err := verifyS3Request(r, s.lookup, s.region, s.d.now())
	if err != nil {
		s.authFailed(q, err)
		return
	}
	q.auth, q.tenant = auth, auth.Cred.Tenant
	if c, ok := r.Context().Value(s3ConnKey{}).(*s3Conn); ok && c.firstAuth(auth.Cred.AccessKeyID) {
		s.d.Audit(EventAuthSuccess, "tenant", q.tenant, "session", q.id, "conn", c.id, "addr", r.RemoteAddr,
			"protocol", "s3", "key_fingerprint", "s3:"+auth.Cred.AccessKeyID, "method", "sigv4")
	}
	s.route(q)
}

// lookup finds the credential of an access key id.
func (s *S3Server) lookup(accessKeyID string) (s3Credential, bool) {
	tenant, ok := s.tenants[accessKeyID]
	if !ok {
		return s3Credential{}, false
	}
	return s3Credential{AccessKeyID: accessKeyID, Secret: DeriveS3Secret(s.secret, accessKeyID), Tenant: tenant}, true
}

// authFailed answers a request that failed authentication, audits it and
// counts it towards a ban of the address (as SFTP counts a failed login).
func (s *S3Server) authFailed(q *s3Request, err error) {
	var e *s3Error
	code := "error"
	if errors.As(err, &e) {
		code = e.Code
	}
	// A request of a form the endpoint does not take (Signature Version 2,
	// no Content-Length) is no failed attempt to authenticate.
	if e != nil && (e.Code == errNotImplemented.Code || e.Code == errMissingContentLength.Code) {
		q.s.d.Audit(EventDenied, "access_key", sanitize(accessKeyOf(q.r)), "addr", q.r.RemoteAddr, "protocol", "s3",
			"session", q.id, "reason", code)
		q.fail(err)
		return
	}
	q.s.d.Audit(EventAuthFailed, "access_key", sanitize(accessKeyOf(q.r)), "addr", q.r.RemoteAddr, "protocol", "s3",
		"session", q.id, "method", "sigv4", "reason", code)
	if s.d.AuthFailed(tcpAddr(q.r.RemoteAddr)) {
		s.d.Audit(EventAddrBanned, "addr", hostOf(tcpAddr(q.r.RemoteAddr)), "for", s.d.Limits.Ban.String())
	}
	q.fail(err)
}

// accessKeyOf returns the access key id a request claims, for the audit
// log: from the Authorization header or a presigned URL's X-Amz-Credential.
func accessKeyOf(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if a := r.Header.Get("Authorization"); a != "" {
		if _, rest, ok := strings.Cut(a, "Credential="); ok {
			cred = rest
		}
	}
	ak, _, _ := strings.Cut(cred, "/")
	return ak
}

// progressReader sets the read deadline of the connection before every
// read of the body, so that the body must keep moving.
type progressReader struct {
	r       io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	p.rc.SetReadDeadline(time.Now().Add(p.timeout))
	return p.r.Read(b)
}

func (p *progressReader) Close() error { return p.r.Close() }

// progressWriter is progressReader for a response body.
type progressWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
	return p.w.Write(b)
}

// Query parameters a request may carry. Any other one (a subresource
// such as ?acl, ?tagging, ?versionId or ?delete) makes it AccessDenied.
var s3Params = map[string]bool{
	"x-id":      true, // the AWS SDKs name the operation
	"list-type": true, "prefix": true, "delimiter": true, "max-keys": true, "marker": true,
	"continuation-token": true, "start-after": true, "encoding-type": true, "fetch-owner": true,
	"max-buckets": true, "bucket-region": true, // ListBuckets
	"location": true, "uploads": true, "uploadId": true, "partNumber": true,
	"key-marker": true, "upload-id-marker": true, "max-uploads": true, "max-parts": true, "part-number-marker": true,
	"response-content-type": true, "response-content-disposition": true, "response-content-encoding": true,
	"response-content-language": true, "response-expires": true, "response-cache-control": true,
}

// route dispatches an authenticated request by its path, method and query.
func (s *S3Server) route(q *s3Request) {
	r := q.r
	p := r.URL.Path
	query := r.URL.Query()
	for k := range query {
		if !s3Params[k] && !strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			q.deny("subresource")
			return
		}
	}
	if !strings.HasPrefix(p, "/") {
		q.deny("path")
		return
	}
	bucket, key, _ := strings.Cut(p[1:], "/")
	if bucket != q.tenant && virtualHost(r.Host, q.tenant) {
		q.fail(errS3VirtualHost)
		return
	}
	if bucket == "" {
		if key == "" && r.Method == http.MethodGet && !query.Has("uploads") && !query.Has("uploadId") && !query.Has("location") {
			q.op = "ListBuckets"
			s.listBuckets(q)
			return
		}
		q.deny("path")
		return
	}
	if bucket != q.tenant {
		q.deny("bucket")
		return
	}
	if key == "" {
		s.routeBucket(q, query)
		return
	}
	// Keys as the store allows them: no "..", ".", empty segments (so no
	// "//", leading or trailing "/"), backslashes or control characters.
	if store.ValidateKey(key) != nil {
		q.deny("key")
		return
	}
	dir, name, _ := strings.Cut(key, "/")
	switch dir {
	case "upload":
		s.routeUpload(q, query, name)
		return
	case "outbox":
		if outboxName.MatchString(name) && !query.Has("uploadId") && !query.Has("partNumber") && !query.Has("uploads") {
			switch r.Method {
			case http.MethodGet:
				q.op = "GetObject"
				s.getObject(q, name)
				return
			case http.MethodHead:
				q.op = "HeadObject"
				s.getObject(q, name)
				return
			}
		}
	}
	q.deny("key")
}

// virtualHost reports whether a request addresses the tenant's bucket by
// its host name (tenant.example.net), which the endpoint does not support.
func virtualHost(hostport, tenant string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	label, rest, ok := strings.Cut(host, ".")
	return ok && rest != "" && label == tenant && net.ParseIP(host) == nil
}

// subresources counts the query parameters of a request that select an
// operation: not the SDKs' x-id, nor a presigned URL's X-Amz-*.
func subresources(query url.Values) int {
	n := 0
	for k := range query {
		if k != "x-id" && !strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			n++
		}
	}
	return n
}

func (s *S3Server) routeBucket(q *s3Request, query url.Values) {
	switch q.r.Method {
	case http.MethodHead:
		if subresources(query) == 0 {
			q.op = "HeadBucket"
			q.w.Header().Set("x-amz-bucket-region", s.region)
			q.w.WriteHeader(http.StatusOK)
			return
		}
	case http.MethodPut:
		if subresources(query) == 0 {
			q.op = "CreateBucket"
			q.fail(errS3OwnBucket)
			return
		}
	case http.MethodGet:
		switch {
		case query.Has("location"):
			q.op = "GetBucketLocation"
			q.writeXML(http.StatusOK, locationConstraint{Xmlns: s3Namespace, Region: s.region})
			return
		case query.Has("uploads"):
			q.op = "ListMultipartUploads"
			s.listMultipartUploads(q)
			return
		case query.Has("uploadId"), query.Has("partNumber"):
		case query.Get("list-type") == "2":
			q.op = "ListObjectsV2"
			s.listObjects(q, true)
			return
		case !query.Has("list-type"):
			q.op = "ListObjects"
			s.listObjects(q, false)
			return
		}
	}
	q.deny("bucket")
}

func (s *S3Server) routeUpload(q *s3Request, query url.Values, name string) {
	r := q.r
	nameOK := !strings.Contains(name, "/") && delivery.ValidateName(name) == nil
	copySource := r.Header.Get("x-amz-copy-source") != ""
	switch {
	case r.Method == http.MethodPut && !query.Has("uploadId") && !query.Has("partNumber") && !query.Has("uploads"):
		q.op = "PutObject"
		if copySource {
			q.op = "CopyObject"
			break
		}
		if !nameOK {
			q.fail(errS3BadName)
			return
		}
		s.putObject(q, name)
		return
	case r.Method == http.MethodPut && query.Has("uploadId") && query.Has("partNumber"):
		q.op = "UploadPart"
		if copySource {
			q.op = "UploadPartCopy"
			break
		}
		s.uploadPart(q, name, nameOK, query.Get("uploadId"), query.Get("partNumber"))
		return
	case r.Method == http.MethodPost && query.Has("uploads") && !query.Has("uploadId"):
		q.op = "CreateMultipartUpload"
		if !nameOK {
			q.fail(errS3BadName)
			return
		}
		s.createMultipartUpload(q, name)
		return
	case r.Method == http.MethodPost && query.Has("uploadId"):
		q.op = "CompleteMultipartUpload"
		s.completeMultipartUpload(q, name, nameOK, query.Get("uploadId"))
		return
	case r.Method == http.MethodDelete && query.Has("uploadId"):
		q.op = "AbortMultipartUpload"
		s.abortMultipartUpload(q, name, nameOK, query.Get("uploadId"))
		return
	case r.Method == http.MethodGet && query.Has("uploadId"):
		q.op = "ListParts"
		s.listParts(q, name, nameOK, query.Get("uploadId"))
		return
	case r.Method == http.MethodHead && !query.Has("uploadId") && !query.Has("partNumber") && !query.Has("uploads"):
		q.op = "HeadObject"
		s.headUpload(q, name)
		return
	}
	q.deny("key")
}

// recentUpload is what HeadObject tells of a file the tenant uploaded.
type recentUpload struct {
	key  string // tenant/NAME
	size int64
	etag string
	at   time.Time
}

// remember records a completed upload for headUpload: the last upload of
// each name, for s3RecentUploadTTL, at most s3MaxRecentUploads of them.
func (s *S3Server) remember(tenant, name string, size int64, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	u := &recentUpload{key: tenant + "/" + name, size: size, etag: etag, at: now}
	s.recent[u.key] = u
	s.recentOrder = append(s.recentOrder, u)
	// The oldest go: expired, superseded by a later upload, or too many.
	for len(s.recentOrder) > 0 {
		e := s.recentOrder[0]
		current := s.recent[e.key] == e
		if current && now.Sub(e.at) <= s3RecentUploadTTL && len(s.recentOrder) <= s3MaxRecentUploads {
			break
		}
		if current {
			delete(s.recent, e.key)
		}
		s.recentOrder[0] = nil
		s.recentOrder = s.recentOrder[1:]
	}
}

// headUpload answers HeadObject in the write-only upload folder: a file
// the tenant uploaded through this gateway in the last hour is found (so
// that a client such as rclone can check its upload, as SFTP clients stat
// a file after writing it); anything else is not, whatever was uploaded.
func (s *S3Server) headUpload(q *s3Request, name string) {
	s.mu.Lock()
	u, ok := s.recent[q.tenant+"/"+name]
	s.mu.Unlock()
	if !ok || time.Since(u.at) > s3RecentUploadTTL {
		// Another gateway instance on the same store may have taken it.
		var err error
		if u, ok, err = s.landedUpload(q.r.Context(), q.tenant, name); err != nil {
			// Not 404: a client would take its upload for lost and send
			// it again. It may ask again.
			s.log.Error("look up an upload for HeadObject", "tenant", q.tenant, "session", q.id, "err", err)
			q.fail(errS3SlowDown)
			return
		}
	}
	if !ok {
		q.w.WriteHeader(http.StatusNotFound)
		return
	}
	h := q.w.Header()
	h.Set("ETag", u.etag)
	h.Set("Last-Modified", u.at.UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.FormatInt(u.size, 10))
	h.Set("Content-Type", "application/octet-stream")
	q.w.WriteHeader(http.StatusOK)
}

// landedUpload finds the tenant's latest upload of name over S3 in the
// last s3RecentUploadTTL in the store, where every gateway instance commits
// deliveries: delivery ids start with their arrival time, so only the ids of
// this hour, the one before and (for an instance whose clock runs ahead)
// the one after are read, newest first, at most s3MaxHeadLookups of them.
func (s *S3Server) landedUpload(ctx context.Context, tenant, name string) (*recentUpload, bool, error) {
	now := time.Now().UTC()
	var metas []string
	for _, hour := range []time.Time{now.Add(-time.Hour), now, now.Add(time.Hour)} {
		prefix := delivery.TenantPrefix(tenant) + hour.Format("20060102T15")
		for info, err := range s.d.Store.List(ctx, prefix) {
			if err != nil {
				return nil, false, err
			}
			if strings.HasSuffix(info.Key, "/meta.json") {
				metas = append(metas, info.Key)
			}
		}
	}
	for i := len(metas) - 1; i >= 0 && i >= len(metas)-s3MaxHeadLookups; i-- {
		m, err := delivery.ReadMeta(ctx, s.d.Store, metas[i])
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			continue // removed meanwhile, or unreadable: not this one
		}
		if m.FileName == name && m.Channel == delivery.ChannelS3 && m.S3ETag != "" && now.Sub(m.ReceivedAt) <= s3RecentUploadTTL {
			return &recentUpload{key: tenant + "/" + name, size: m.Size, etag: m.S3ETag, at: m.ReceivedAt}, true, nil
		}
	}
	return nil, false, nil
}

// deny answers AccessDenied and audits the request (never its path: a
// file name may say more than it should).
func (q *s3Request) deny(why string) {
	op := q.op
	if op == "" {
		op = q.r.Method
	}
	q.s.d.Audit(EventDenied, "tenant", q.tenant, "session", q.id, "addr", q.r.RemoteAddr, "protocol", "s3",
		"method", op, "reason", why)
	q.fail(errAccessDenied)
}

// openSession counts an upload session of the tenant; when the tenant has
// too many, it audits that and answers SlowDown. The caller closes a
// session it got with CloseSession.
func (q *s3Request) openSession() bool {
	if err := q.s.d.OpenSession(q.tenant); err != nil {
		q.s.d.Audit(EventConnRefused, "tenant", q.tenant, "session", q.id, "addr", q.r.RemoteAddr, "protocol", "s3", "reason", "too_many_sessions")
		q.fail(errS3SlowDown)
		return false
	}
	return true
}

// session is the upload session of the request, for the drop-zone.
func (q *s3Request) session() Session {
	return Session{ID: q.id, Tenant: q.tenant, Channel: delivery.ChannelS3, RemoteAddr: q.r.RemoteAddr,
		KeyFingerprint: "s3:" + q.auth.Cred.AccessKeyID}
}

// fail answers err as S3's XML error document. An error that is no
// *s3Error is internal: it is logged with the request id and the client
// gets InternalError.
func (q *s3Request) fail(err error) {
	var e *s3Error
	if !errors.As(err, &e) {
		q.s.log.Error("s3 request failed", "tenant", q.tenant, "session", q.id, "op", q.op, "err", err)
		e = errInternal
	}
	h := q.w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	if q.r.Method == http.MethodHead {
		q.w.WriteHeader(e.Status)
		return
	}
	q.writeXML(e.Status, q.errorDoc(e))
}

func (q *s3Request) errorDoc(e *s3Error) xmlError {
	return xmlError{Code: e.Code, Message: e.Message, Resource: q.r.URL.Path, RequestID: q.id}
}

// writeXML answers with an XML document.
func (q *s3Request) writeXML(status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		q.s.log.Error("s3 response", "session", q.id, "err", err)
		status, b = http.StatusInternalServerError, nil
	}
	h := q.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	q.rc.SetWriteDeadline(time.Now().Add(q.s.bodyTimeout))
	q.w.WriteHeader(status)
	io.WriteString(q.w, xml.Header)
	q.w.Write(b)
}

// refusalError maps why an upload failed to what the client is told, and
// audits refusals. Body errors (a bad chunk signature or checksum, a body
// cut short, a stalled client) are the client's; anything unknown is
// internal.
func (q *s3Request) refusalError(name string, err error) error {
	var r *delivery.Refusal
	var e *s3Error
	var ne net.Error
	reason := reasonOf(err)
	var out error
	switch {
	case errors.Is(err, delivery.ErrTooLarge):
		out = errEntityTooLarge
	case errors.As(err, &r):
		out = &s3Error{Code: errInvalidRequest.Code, Message: r.Error(), Status: http.StatusBadRequest}
	case errors.Is(err, errShutdown):
		out = errS3Unavailable
	case errors.As(err, &e):
		out, reason = e, e.Code
	case errors.As(err, &ne) && ne.Timeout():
		out, reason = errS3Timeout, "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF):
		out, reason = errS3Incomplete, "broken"
	default:
		q.s.log.Error("s3 upload failed", "tenant", q.tenant, "session", q.id, "op", q.op, "err", err)
		out = errInternal
	}
	q.s.d.Audit(EventUploadRefused, "tenant", q.tenant, "session", q.id, "addr", q.r.RemoteAddr, "protocol", "s3",
		"file", name, "reason", reason)
	return out
}

// payloadSize is the length of the request's payload as declared: the
// decoded length of an aws-chunked body, else Content-Length.
func (q *s3Request) payloadSize() (int64, error) {
	if q.auth.DecodedLength < 0 {
		return 0, errMissingContentLength
	}
	return q.auth.DecodedLength, nil
}

// limitedBody is the verified body of a request, checked to hold exactly
// the declared number of bytes and, when the client sent Content-MD5, to
// have that digest; it computes the MD5 on the way (the ETag).
type limitedBody struct {
	r    io.Reader
	size int64
	n    int64
	md5  hash.Hash
	want []byte // Content-MD5, when given
	err  error
	// The checksum of an aws-chunked trailer, to be returned as S3 does
	// (the body has verified it against the trailer by io.EOF).
	trailer    *checksumAlgorithm
	trailerSum hash.Hash
}

func (q *s3Request) body(size int64) (*limitedBody, error) {
	b := &limitedBody{r: q.auth.Body, size: size, md5: md5.New()}
	if v := q.r.Header.Get("Content-MD5"); v != "" {
		sum, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(sum) != md5.Size {
			return nil, &s3Error{Code: "InvalidDigest", Message: "The Content-MD5 you specified is not valid.", Status: http.StatusBadRequest}
		}
		b.want = sum
	}
	if v := q.r.Header.Values("X-Amz-Trailer"); len(v) == 1 {
		if a := checksumByName(strings.ToLower(strings.TrimSpace(v[0]))); a != nil {
			b.trailer, b.trailerSum = a, a.new()
		}
	}
	return b, nil
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if rest := b.size - b.n + 1; int64(len(p)) > rest {
		p = p[:rest] // one byte more than declared shows a body too long
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.md5.Write(p[:n])
	if b.trailerSum != nil {
		b.trailerSum.Write(p[:n])
	}
	if b.n > b.size {
		b.err = &s3Error{Code: errInvalidRequest.Code, Message: "The request body is longer than its declared length.", Status: http.StatusBadRequest}
		return 0, b.err
	}
	if errors.Is(err, io.EOF) {
		switch {
		case b.n < b.size:
			err = errS3Incomplete
		case b.want != nil && !bytes.Equal(b.want, b.md5.Sum(nil)):
			err = errBadDigest
		}
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// etag is the quoted hex MD5 of what was read.
func (b *limitedBody) etag() string { return `"` + hex.EncodeToString(b.md5.Sum(nil)) + `"` }

// copyInto copies src into dst with a buffer of its own and tells read
// errors (the client's) from write errors (the drop-zone's).
func copyInto(dst io.Writer, src io.Reader) (readErr, writeErr error) {
	buf := make([]byte, s3CopyBufferSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return nil, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

// putObject streams the body into a new delivery of the tenant.
func (s *S3Server) putObject(q *s3Request, name string) {
	size, err := q.payloadSize()
	if err != nil {
		q.fail(err)
		return
	}
	if max := int64(s.d.Limits.MaxFileSize); max > 0 && size > max {
		q.fail(q.refusalError(name, delivery.ErrTooLarge))
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
	sess := q.session()
	u, err := s.d.StartUpload(q.r.Context(), sess, name)
	if err != nil {
		q.fail(q.refusalError(name, err))
		return
	}
	readErr, writeErr := copyInto(io.NewOffsetWriter(u, 0), body)
	if err := cmpErr(readErr, writeErr); err != nil {
		// Tell the client before the abort waits for the store.
		q.fail(q.refusalError(name, err))
		u.Abort(err)
		return
	}
	p, err := u.Finish()
	if err != nil {
		q.fail(q.refusalError(name, err))
		return
	}
	p.SetS3ETag(body.etag())
	m, err := s.d.CommitUpload(q.r.Context(), sess, p, name)
	if err != nil {
		q.fail(q.refusalError(name, err))
		return
	}
	s.remember(q.tenant, name, m.Size, body.etag())
	h := q.w.Header()
	h.Set("ETag", body.etag())
	body.echoChecksums(h, q.r.Header)
	q.rc.SetWriteDeadline(time.Now().Add(s.bodyTimeout))
	q.w.WriteHeader(http.StatusOK)
}

// echoChecksums returns the checksum a client sent, in a header or an
// aws-chunked trailer, as S3 does. It has been verified by then: the body
// checks both against the payload by io.EOF.
func (b *limitedBody) echoChecksums(dst, src http.Header) {
	for _, a := range checksumAlgorithms {
		if v := src.Values(a.name); len(v) == 1 {
			dst.Set(a.name, v[0])
		}
	}
	if b.trailer != nil {
		dst.Set(b.trailer.name, base64.StdEncoding.EncodeToString(b.trailerSum.Sum(nil)))
	}
}

// Outbox: GetObject, HeadObject and listings.

// outboxETag is the entity tag of an outbox object: derived from its key,
// size and time, so it changes when the object does, without reading it.
// The "-1" marks it as no MD5 of the content (as a multipart ETag is), so
// that clients do not compare it with one.
func outboxETag(info store.Info) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d", info.Key, info.Size, info.ModTime.UnixNano())))
	return `"` + hex.EncodeToString(h[:16]) + `-1"`
}

func contentTypeOf(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// responseOverrides are the headers a GetObject may ask for by parameter.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
}

func (s *S3Server) getObject(q *s3Request, name string) {
	ctx := q.r.Context()
	key := "outbox/" + q.tenant + "/" + name
	info, err := s.d.Store.Stat(ctx, key)
	if errors.Is(err, store.ErrNotExist) {
		q.fail(errNoSuchKey)
		return
	}
	if err != nil {
		q.fail(err)
		return
	}
	etag := outboxETag(info)
	h := q.w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", contentTypeOf(name))
	for param, header := range responseOverrides {
		if v := q.r.URL.Query().Get(param); v != "" {
			h.Set(header, v)
		}
	}
	switch precondition(q.r, etag, info.ModTime) {
	case http.StatusNotModified:
		h.Del("Content-Type")
		q.w.WriteHeader(http.StatusNotModified)
		return
	case http.StatusPreconditionFailed:
		q.fail(errS3Precondition)
		return
	}
	start, length, partial, ok := parseRange(q.r.Header.Get("Range"), info.Size)
	if !ok {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
		q.fail(errS3InvalidRange)
		return
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, info.Size))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if q.r.Method == http.MethodHead {
		q.w.WriteHeader(status)
		return
	}
	rc, err := s.d.Store.Get(ctx, key)
	if errors.Is(err, store.ErrNotExist) {
		q.fail(errNoSuchKey)
		return
	}
	if err != nil {
		q.fail(err)
		return
	}
	defer rc.Close()
	if start > 0 {
		if sk, ok := rc.(io.Seeker); ok {
			_, err = sk.Seek(start, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, rc, start)
		}
		if err != nil {
			q.fail(err)
			return
		}
	}
	q.rc.SetWriteDeadline(time.Now().Add(s.bodyTimeout))
	q.w.WriteHeader(status)
	if _, err := io.CopyN(&progressWriter{w: q.w, rc: q.rc, timeout: s.bodyTimeout}, rc, length); err != nil {
		s.log.Debug("s3 response cut off", "tenant", q.tenant, "session", q.id, "err", err)
	}
}

// precondition applies the conditional request headers as RFC 9110 orders
// them: 0 to go on, else the status to answer.
func precondition(r *http.Request, etag string, mod time.Time) int {
	mod = mod.Truncate(time.Second)
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagMatches(im, etag) {
			return http.StatusPreconditionFailed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && mod.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagMatches(inm, etag) {
			return http.StatusNotModified
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !mod.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

func etagMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimPrefix(strings.TrimSpace(e), "W/")
		if e == "*" || e == etag || `"`+e+`"` == etag {
			return true
		}
	}
	return false
}

// parseRange interprets a Range header as S3 does: one range of bytes;
// a header it cannot parse is ignored (the whole object). ok is false
// when the range cannot be satisfied.
func parseRange(h string, size int64) (start, length int64, partial, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, size, false, true
	}
	if first == "" { // the last N bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, size, false, true
		}
		if n == 0 {
			return 0, 0, false, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, size, false, true
	}
	end := size - 1
	if last != "" {
		b, err := strconv.ParseInt(last, 10, 64)
		if err != nil || b < a {
			return 0, size, false, true
		}
		end = min(b, size-1)
	}
	if a >= size {
		return 0, 0, false, false
	}
	return a, end - a + 1, true, true
}

func (s *S3Server) listBuckets(q *s3Request) {
	owner := xmlOwner{ID: q.tenant, DisplayName: q.tenant}
	q.writeXML(http.StatusOK, listAllMyBucketsResult{Xmlns: s3Namespace, Owner: owner,
		// There is no creation time to tell: the bucket is the tenant's
		// configuration.
		Buckets: []xmlBucket{{Name: q.tenant, CreationDate: s3Time(time.Unix(0, 0))}}})
}

// listObjects answers ListObjectsV2 (v2) and ListObjects. Only the outbox
// is visible, as the keys outbox/NAME.
func (s *S3Server) listObjects(q *s3Request, v2 bool) {
	query := q.r.URL.Query()
	prefix, delim := query.Get("prefix"), query.Get("delimiter")
	maxKeys := s3MaxListKeys
	if v := query.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			q.fail(&s3Error{Code: "InvalidArgument", Message: "max-keys must be a number of 0 or more.", Status: http.StatusBadRequest})
			return
		}
		maxKeys = min(n, s3MaxListKeys)
	}
	enc := query.Get("encoding-type")
	if enc != "" && enc != "url" {
		q.fail(&s3Error{Code: "InvalidArgument", Message: "Invalid Encoding Method specified in Request", Status: http.StatusBadRequest})
		return
	}
	after := query.Get("marker")
	token := query.Get("continuation-token")
	if v2 {
		after = query.Get("start-after")
		if token != "" {
			b, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil {
				q.fail(&s3Error{Code: "InvalidArgument", Message: "The continuation token provided is incorrect.", Status: http.StatusBadRequest})
				return
			}
			after = max(after, string(b))
		}
	}
	encode := func(s string) string {
		if enc == "url" {
			return url.QueryEscape(s)
		}
		return s
	}
	res := listBucketResult{Xmlns: s3Namespace, Name: q.tenant, Prefix: encode(prefix), Delimiter: encode(delim),
		MaxKeys: maxKeys, EncodingType: enc}
	owner := &xmlOwner{ID: q.tenant, DisplayName: q.tenant}
	if v2 {
		res.ContinuationToken, res.StartAfter = token, encode(query.Get("start-after"))
		if query.Get("fetch-owner") != "true" {
			owner = nil
		}
	} else {
		res.Marker = new(encode(after))
	}

	const visible = "outbox/"
	base := "outbox/" + q.tenant + "/"
	storePrefix := ""
	switch {
	case strings.HasPrefix(prefix, visible):
		storePrefix = base + prefix[len(visible):]
	case strings.HasPrefix(visible, prefix):
		storePrefix = base
	}
	last, lastPrefix := "", ""
	count := 0
	if storePrefix != "" && maxKeys > 0 {
		for info, err := range s.d.Store.List(q.r.Context(), storePrefix) {
			if err != nil {
				q.fail(err)
				return
			}
			name := strings.TrimPrefix(info.Key, base)
			if !outboxName.MatchString(name) {
				continue
			}
			key := visible + name
			if !strings.HasPrefix(key, prefix) {
				continue
			}
			item, isPrefix := key, false
			if delim != "" {
				if i := strings.Index(key[len(prefix):], delim); i >= 0 {
					item, isPrefix = key[:len(prefix)+i+len(delim)], true
				}
			}
			if item <= after || isPrefix && item == lastPrefix {
				continue
			}
			if count == maxKeys {
				res.IsTruncated = true
				break
			}
			count++
			last = item
			if isPrefix {
				lastPrefix = item
				res.CommonPrefixes = append(res.CommonPrefixes, xmlPrefix{Prefix: encode(item)})
				continue
			}
			res.Contents = append(res.Contents, xmlObject{Key: encode(key), LastModified: s3Time(info.ModTime),
				ETag: outboxETag(info), Size: info.Size, Owner: owner, StorageClass: "STANDARD"})
		}
	}
	if v2 {
		res.KeyCount = &count
		if res.IsTruncated {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
		}
	} else if res.IsTruncated && delim != "" {
		res.NextMarker = encode(last)
	}
	q.writeXML(http.StatusOK, res)
}
