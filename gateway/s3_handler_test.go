package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// s3TestRegion is the region of the test endpoint.
const s3TestRegion = "eu-west-1"

// s3TestAccessKeys are the tenants' access key ids.
var s3TestAccessKeys = map[string]string{"acme": "TTPACME0001", "zon": "TTPZON00001"}

// s3gw is a running S3 endpoint on 127.0.0.1 (real TLS, through Serve) with
// a local store, tenants "acme" and "zon", keys made by crypto.GenerateKeys
// and its audit log captured.
type s3gw struct {
	t      testing.TB
	dir    string
	keys   string // the keys folder: tls.crt (the certificate clients must trust), s3.secret
	st     store.Store
	d      *Dropzone
	srv    *S3Server
	addr   string // host:port
	url    string // https://host:port
	caFile string // tls.crt, for clients such as the AWS CLI (--ca-bundle) or rclone (--ca-cert)
	pool   *x509.CertPool
	secret []byte
	logs   *testenv.SyncBuffer
	done   chan error
}

// s3Setup is what a test may change before the endpoint starts.
type s3Setup struct {
	Options S3Options
	Limits  config.Limits
	// Tenants replaces the default tenants acme and zon when set.
	Tenants []config.Tenant
	// Server, when set, is called with the server before it serves (to
	// shorten its timeouts, say).
	Server func(*S3Server)
}

// startS3 starts an S3 endpoint; setup, when not nil, changes its options
// and limits first. The endpoint stops at the end of the test.
func startS3(t testing.TB, setup func(*s3Setup)) *s3gw {
	t.Helper()
	return startS3On(t, nil, "", setup)
}

// startS3On is startS3 on the store st (a local store of its own when nil)
// with the keys in folder keys (keys of its own when ""), so that several
// endpoints can share a store, a certificate and a credential secret.
func startS3On(t testing.TB, st store.Store, keys string, setup func(*s3Setup)) *s3gw {
	t.Helper()
	dir := t.TempDir()
	g := &s3gw{t: t, dir: dir, keys: filepath.Join(dir, "keys"), logs: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	if keys != "" {
		g.keys = keys
	} else if _, err := crypto.GenerateKeys(g.keys); err != nil {
		t.Fatal(err)
	}
	if st == nil {
		var err error
		if st, err = store.NewLocal(filepath.Join(dir, "store")); err != nil {
			t.Fatal(err)
		}
	}
	g.st = st
	secret, err := ReadS3CredentialSecret(filepath.Join(g.keys, crypto.S3SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	g.secret = secret
	g.caFile = filepath.Join(g.keys, crypto.TLSCertFile)
	su := &s3Setup{
		Options: S3Options{Region: s3TestRegion, CredentialSecret: secret, TLSCertFile: g.caFile,
			TLSKeyFile: filepath.Join(g.keys, crypto.TLSKeyFile), MultipartExpiry: time.Hour},
		Limits: config.Limits{MaxFileSize: 1 << 30, MaxSessionsPerTenant: 64, AuthFailuresBeforeBan: 10,
			Ban: config.Duration(15 * time.Minute), HandshakeTimeout: config.Duration(10 * time.Second), IdleTimeout: config.Duration(time.Minute)},
	}
	if setup != nil {
		setup(su)
	}
	cfg := &config.Config{Tenants: su.Tenants}
	if cfg.Tenants == nil {
		for _, id := range []string{"acme", "zon"} {
			cfg.Tenants = append(cfg.Tenants, config.Tenant{ID: id, Datasets: []string{"rom"}, Organisations: []string{"94012345"},
				S3AccessKey: s3TestAccessKeys[id]})
		}
	}
	cfg.Gateway.Limits = su.Limits
	g.d = NewDropzone(st, cfg, slog.New(slog.NewJSONHandler(g.logs, nil)))
	g.srv, err = NewS3Server(g.d, su.Options)
	if err != nil {
		t.Fatal(err)
	}
	if su.Server != nil {
		su.Server(g.srv)
	}
	pem, err := os.ReadFile(g.caFile)
	if err != nil {
		t.Fatal(err)
	}
	g.pool = x509.NewCertPool()
	g.pool.AppendCertsFromPEM(pem)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	g.url = "https://" + g.addr
	go func() { g.done <- g.srv.Serve(ln) }()
	t.Cleanup(func() { g.stop(time.Second) })
	return g
}

// stop shuts the endpoint down with the given grace period.
func (g *s3gw) stop(grace time.Duration) {
	stopServing(g.t, g.done, grace, func(ctx context.Context) { g.srv.Shutdown(ctx) })
}

// creds returns a tenant's access key id and secret key.
func (g *s3gw) creds(tenant string) (accessKey, secretKey string) {
	ak := s3TestAccessKeys[tenant]
	return ak, DeriveS3Secret(g.secret, ak)
}

// httpClient trusts the endpoint's certificate.
func (g *s3gw) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: g.pool}}, Timeout: time.Minute}
}

// client returns an aws-sdk-go-v2 S3 client of tenant, path-style, with the
// defaults config.LoadDefaultConfig would give it: checksums (CRC32, in an
// aws-chunked trailer) on every upload, checked on downloads that have one.
func (g *s3gw) client(tenant string, optFns ...func(*s3.Options)) *s3.Client {
	ak, sk := g.creds(tenant)
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(g.url),
		UsePathStyle:               true,
		Region:                     s3TestRegion,
		Credentials:                credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient:                 g.httpClient(),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, optFns...)
}

// deliveries returns the committed deliveries of tenant.
func (g *s3gw) deliveries(tenant string) []delivery.Meta { return tenantDeliveries(g.t, g.st, tenant) }

// storeKeys lists the keys in the store under prefix.
func (g *s3gw) storeKeys(prefix string) []string { return storeKeys(g.t, g.st, prefix) }

// sendPresigned sends a presigned request with net/http, as a tool that
// knows nothing of S3 does, and fails t unless it answers 200.
func (g *s3gw) sendPresigned(t testing.TB, method, url string, signed http.Header, body []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range signed {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = v
		}
	}
	resp, err := g.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned %s: %s %s", method, resp.Status, answer)
	}
}

// events returns the audit events with the given name.
func (g *s3gw) events(name string) []string { return auditEvents(g.logs, name) }

// checkDelivery checks that tenant has exactly one delivery, of name, over
// S3, whose stored bytes are data.
func (g *s3gw) checkDelivery(tenant, name string, data []byte) {
	g.t.Helper()
	ds := g.deliveries(tenant)
	if len(ds) != 1 {
		g.t.Fatalf("%d deliveries of %s, want 1", len(ds), tenant)
	}
	m := ds[0]
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	if m.SHA256 != want || m.Size != int64(len(data)) || m.FileName != name || m.Channel != delivery.ChannelS3 ||
		m.KeyFingerprint != "s3:"+s3TestAccessKeys[tenant] {
		g.t.Errorf("delivery %+v, want file %s, size %d, sha256 %s, channel s3, key s3:%s", m, name, len(data), want, s3TestAccessKeys[tenant])
	}
	stored, err := store.ReadAll(context.Background(), g.st, delivery.DataKey(tenant, m.ID), 1<<30)
	if err != nil {
		g.t.Fatal(err)
	}
	if got := sha256.Sum256(stored); hex.EncodeToString(got[:]) != want {
		g.t.Errorf("stored bytes hash to %x, want %s", got, want)
	}
}

// s3WaitFor waits until cond holds, or fails the test after 10 seconds.
func s3WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// s3Code returns the S3 error code of err ("" when it has none).
func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantS3Code(t testing.TB, what string, err error, code string) {
	t.Helper()
	if got := s3Code(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %s", what, err, got, code)
	}
}

func s3MD5ETag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func TestS3PutObject(t *testing.T) {
	g := startS3(t, nil)
	c := g.client("acme")
	data := ageBytes(3<<20 + 123)
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/rom-2026h2.csv.age"),
		Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.ETag); got != s3MD5ETag(data) {
		t.Errorf("ETag %s, want %s", got, s3MD5ETag(data))
	}
	// The SDK sends a CRC32 by default (in a trailer): it comes back.
	crc := make([]byte, 4)
	binary.BigEndian.PutUint32(crc, crc32.ChecksumIEEE(data))
	if got, want := aws.ToString(out.ChecksumCRC32), base64.StdEncoding.EncodeToString(crc); got != want {
		t.Errorf("x-amz-checksum-crc32 %q, want %q", got, want)
	}
	g.checkDelivery("acme", "rom-2026h2.csv.age", data)
	if n := len(g.events(EventUploadCommitted)); n != 1 {
		t.Errorf("%d upload.committed events, want 1", n)
	}
	if len(g.events(EventAuthSuccess)) == 0 {
		t.Error("no auth.success event")
	}

	// Uploading the same name again makes a second delivery.
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/rom-2026h2.csv.age"),
		Body: bytes.NewReader(ageBytes(1000))}); err != nil {
		t.Fatal(err)
	}
	if n := len(g.deliveries("acme")); n != 2 {
		t.Errorf("%d deliveries after a second upload, want 2", n)
	}
}

func TestS3PutObjectRefused(t *testing.T) {
	g := startS3(t, func(s *s3Setup) { s.Limits.MaxFileSize = 1 << 20 })
	c := g.client("acme")
	put := func(key string, data []byte) error {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String(key), Body: bytes.NewReader(data)})
		return err
	}
	tests := []struct {
		name, key string
		data      []byte
		code      string
		msg       string
	}{
		{"plaintext", "upload/rom.csv.age", []byte("bsn,naam\n123456782,Jansen\n"), "InvalidRequest", "not_encrypted"},
		{"plaintext, large", "upload/rom.csv.age", bytes.Repeat([]byte("bsn,naam\n"), 100_000), "InvalidRequest", "not_encrypted"},
		{"empty", "upload/rom.csv.age", nil, "InvalidRequest", "empty"},
		{"too large", "upload/big.age", ageBytes(1<<20 + 1), "EntityTooLarge", ""},
		{"bad extension", "upload/rom.csv", ageBytes(100), "InvalidArgument", ".age"},
		{"subfolder", "upload/a/rom.age", ageBytes(100), "InvalidArgument", ""},
		{"leading dot", "upload/.rom.age", ageBytes(100), "InvalidArgument", ""},
		{"outside upload", "rom.age", ageBytes(100), "AccessDenied", ""},
		{"outbox", "outbox/rom.age", ageBytes(100), "AccessDenied", ""},
		{"dot dot", "upload/../outbox/rom.age", ageBytes(100), "AccessDenied", ""},
		{"double slash", "upload//rom.age", ageBytes(100), "AccessDenied", ""},
		{"backslash", `upload/..\rom.age`, ageBytes(100), "AccessDenied", ""},
		{"NUL", "upload/rom\x00.age", ageBytes(100), "AccessDenied", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := put(tt.key, tt.data)
			wantS3Code(t, "PutObject "+tt.key, err, tt.code)
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
	if ds := g.deliveries("acme"); len(ds) != 0 {
		t.Errorf("deliveries %v, want none", ds)
	}
	if keys := g.storeKeys(""); len(keys) != 0 {
		t.Errorf("store holds %q, want nothing", keys)
	}
	if len(g.events(EventUploadRefused)) == 0 {
		t.Error("no upload.refused event")
	}
}

func TestS3OtherBucketDenied(t *testing.T) {
	g := startS3(t, nil)
	c := g.client("acme")
	if err := store.PutBytes(t.Context(), g.st, "outbox/zon/report.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, bucket := range []string{"zon", "nobody", "acme2"} {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("upload/x.age"), Body: bytes.NewReader(ageBytes(100))})
		wantS3Code(t, "PutObject in bucket "+bucket, err, "AccessDenied")
		_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("outbox/report.json")})
		wantS3Code(t, "GetObject in bucket "+bucket, err, "AccessDenied")
		_, err = c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		wantS3Code(t, "ListObjectsV2 of bucket "+bucket, err, "AccessDenied")
		var ae smithy.APIError
		if errors.As(err, &ae) {
			msgs = append(msgs, ae.ErrorMessage())
		}
		_, err = c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		if err == nil {
			t.Errorf("HeadBucket %s: no error", bucket)
		}
	}
	if len(slices.Compact(msgs)) != 1 {
		t.Errorf("messages differ between buckets: %q", msgs)
	}
	if len(g.deliveries("zon")) != 0 || len(g.deliveries("acme")) != 0 {
		t.Error("a delivery was made")
	}
	if len(g.events(EventDenied)) == 0 {
		t.Error("no request.denied event")
	}
}

func TestS3Outbox(t *testing.T) {
	g := startS3(t, nil)
	c := g.client("acme")
	report := []byte(`{"delivery_id": "20261123T101500.123Z-3f9a1c2e", "status": "accepted"}`)
	for key, data := range map[string][]byte{
		"outbox/acme/20261123T101500.123Z-3f9a1c2e.json": report,
		"outbox/acme/20261123T101500.123Z-3f9a1c2e.txt":  []byte("accepted\n"),
		"outbox/acme/20261124T090000.000Z-00000001.json": []byte("{}"),
		"outbox/zon/20261123T101500.123Z-99999999.json":  []byte("{}"),
	} {
		if err := store.PutBytes(t.Context(), g.st, key, data); err != nil {
			t.Fatal(err)
		}
	}

	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/20261123T101500.123Z-3f9a1c2e.json")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || !bytes.Equal(got, report) {
		t.Errorf("GetObject: %q, %v; want %q", got, err, report)
	}
	if aws.ToString(out.ETag) == "" || out.LastModified == nil || aws.ToString(out.ContentType) != "application/json" {
		t.Errorf("GetObject: ETag %q, Last-Modified %v, Content-Type %q", aws.ToString(out.ETag), out.LastModified, aws.ToString(out.ContentType))
	}

	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/20261123T101500.123Z-3f9a1c2e.json")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(report)) || aws.ToString(head.ETag) != aws.ToString(out.ETag) {
		t.Errorf("HeadObject: length %d, ETag %s; want %d, %s", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag), len(report), aws.ToString(out.ETag))
	}

	part, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/20261123T101500.123Z-3f9a1c2e.json"),
		Range: aws.String("bytes=2-12")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(part.Body)
	part.Body.Close()
	if !bytes.Equal(got, report[2:13]) || aws.ToString(part.ContentRange) != fmt.Sprintf("bytes 2-12/%d", len(report)) {
		t.Errorf("range 2-12: %q (%s), want %q", got, aws.ToString(part.ContentRange), report[2:13])
	}

	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/20261123T101500.123Z-99999999.json")})
	wantS3Code(t, "GetObject of another tenant's report", err, "NoSuchKey")

	list := func(in *s3.ListObjectsV2Input) (keys, prefixes []string) {
		t.Helper()
		in.Bucket = aws.String("acme")
		out, err := c.ListObjectsV2(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
		return keys, prefixes
	}
	all := []string{"outbox/20261123T101500.123Z-3f9a1c2e.json", "outbox/20261123T101500.123Z-3f9a1c2e.txt", "outbox/20261124T090000.000Z-00000001.json"}
	if keys, _ := list(&s3.ListObjectsV2Input{Prefix: aws.String("outbox/")}); !slices.Equal(keys, all) {
		t.Errorf("list outbox/: %q, want %q", keys, all)
	}
	if keys, _ := list(&s3.ListObjectsV2Input{}); !slices.Equal(keys, all) {
		t.Errorf("list everything: %q, want %q", keys, all)
	}
	if keys, prefixes := list(&s3.ListObjectsV2Input{Delimiter: aws.String("/")}); len(keys) != 0 || !slices.Equal(prefixes, []string{"outbox/"}) {
		t.Errorf("list with delimiter /: keys %q, prefixes %q; want none, [outbox/]", keys, prefixes)
	}
	if keys, prefixes := list(&s3.ListObjectsV2Input{Prefix: aws.String("upload/")}); len(keys)+len(prefixes) != 0 {
		t.Errorf("list upload/: %q %q, want nothing", keys, prefixes)
	}
	if keys, _ := list(&s3.ListObjectsV2Input{Prefix: aws.String("outbox/20261124")}); !slices.Equal(keys, all[2:]) {
		t.Errorf("list outbox/20261124: %q, want %q", keys, all[2:])
	}
	if keys, _ := list(&s3.ListObjectsV2Input{StartAfter: aws.String(all[0])}); !slices.Equal(keys, all[1:]) {
		t.Errorf("list after %s: %q, want %q", all[0], keys, all[1:])
	}

	// Pages of one key, as the SDK's paginator reads them.
	var paged []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("acme"), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			paged = append(paged, aws.ToString(o.Key))
		}
	}
	if !slices.Equal(paged, all) {
		t.Errorf("paged listing: %q, want %q", paged, all)
	}

	// Version 1, as s3cmd and rclone use it.
	v1, err := c.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: aws.String("acme"), Prefix: aws.String("outbox/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(v1.Contents) != len(all) {
		t.Errorf("ListObjects: %d keys, want %d", len(v1.Contents), len(all))
	}
}

func TestS3BucketOperations(t *testing.T) {
	g := startS3(t, nil)
	c := g.client("acme")
	if _, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String("acme")}); err != nil {
		t.Errorf("HeadBucket: %v", err)
	}
	loc, err := c.GetBucketLocation(t.Context(), &s3.GetBucketLocationInput{Bucket: aws.String("acme")})
	if err != nil || string(loc.LocationConstraint) != s3TestRegion {
		t.Errorf("GetBucketLocation: %v, %v; want %s", loc, err, s3TestRegion)
	}
	lb, err := c.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "acme" {
		t.Errorf("ListBuckets: %+v, want only acme", lb.Buckets)
	}
	_, err = c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("acme")})
	wantS3Code(t, "CreateBucket of the own bucket", err, "BucketAlreadyOwnedByYou")
	_, err = c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("new-bucket")})
	wantS3Code(t, "CreateBucket", err, "AccessDenied")
	_, err = c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: aws.String("acme")})
	wantS3Code(t, "DeleteBucket", err, "AccessDenied")
	_, err = c.GetBucketAcl(t.Context(), &s3.GetBucketAclInput{Bucket: aws.String("acme")})
	wantS3Code(t, "GetBucketAcl", err, "AccessDenied")
}

func TestS3ObjectOperationsDenied(t *testing.T) {
	g := startS3(t, nil)
	c := g.client("acme")
	const report = "outbox/acme/20261123T101500.123Z-3f9a1c2e.json"
	if err := store.PutBytes(t.Context(), g.st, report, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/x.age"), Body: bytes.NewReader(ageBytes(100))}); err != nil {
		t.Fatal(err)
	}
	key := aws.String("outbox/20261123T101500.123Z-3f9a1c2e.json")
	_, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/x.age")})
	wantS3Code(t, "GetObject upload/x.age", err, "AccessDenied")
	// HeadObject finds a file just uploaded (rclone checks its uploads),
	// nothing else.
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/x.age")})
	if err != nil || aws.ToInt64(head.ContentLength) != 100 {
		t.Errorf("HeadObject upload/x.age after its upload: %v, %v; want 100 bytes", head, err)
	}
	if _, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/y.age")}); err == nil {
		t.Error("HeadObject upload/y.age: no error")
	}
	if _, err := g.client("zon").HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("zon"), Key: aws.String("upload/x.age")}); err == nil {
		t.Error("HeadObject of acme's upload by zon: no error")
	}
	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String("acme"), Key: key})
	wantS3Code(t, "DeleteObject", err, "AccessDenied")
	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/x.age")})
	wantS3Code(t, "DeleteObject upload/x.age", err, "AccessDenied")
	_, err = c.DeleteObjects(t.Context(), &s3.DeleteObjectsInput{Bucket: aws.String("acme"),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: key}}}})
	wantS3Code(t, "DeleteObjects", err, "AccessDenied")
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: key, Body: bytes.NewReader(ageBytes(100))})
	wantS3Code(t, "PutObject in the outbox", err, "AccessDenied")
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/y.age"), CopySource: aws.String("acme/" + *key)})
	wantS3Code(t, "CopyObject", err, "AccessDenied")
	_, err = c.GetObjectAcl(t.Context(), &s3.GetObjectAclInput{Bucket: aws.String("acme"), Key: key})
	wantS3Code(t, "GetObjectAcl", err, "AccessDenied")
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/../upload/x.age")})
	wantS3Code(t, "GetObject outbox/../upload/x.age", err, "AccessDenied")
	if _, err := g.st.Stat(t.Context(), report); err != nil {
		t.Errorf("report after the denied requests: %v", err)
	}
	if n := len(g.deliveries("acme")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func TestS3AuthFailures(t *testing.T) {
	g := startS3(t, func(s *s3Setup) { s.Limits.AuthFailuresBeforeBan = 3 })
	bad := s3.New(s3.Options{BaseEndpoint: aws.String(g.url), UsePathStyle: true, Region: s3TestRegion,
		Credentials: credentials.NewStaticCredentialsProvider("TTPACME0001", "not-the-secret", ""), HTTPClient: g.httpClient()})
	unknown := s3.New(s3.Options{BaseEndpoint: aws.String(g.url), UsePathStyle: true, Region: s3TestRegion,
		Credentials: credentials.NewStaticCredentialsProvider("NOSUCH\tKEY1", "x", ""), HTTPClient: g.httpClient()})
	_, err := bad.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("acme")})
	if code := s3Code(err); code != "SignatureDoesNotMatch" && code != "AccessDenied" {
		t.Errorf("wrong secret: %v, want SignatureDoesNotMatch", err)
	}
	_, err = unknown.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("acme")})
	if err == nil {
		t.Error("unknown access key: no error")
	}
	failed := g.events(EventAuthFailed)
	if len(failed) != 2 {
		t.Fatalf("%d auth.failed events, want 2: %q", len(failed), failed)
	}
	if !strings.Contains(failed[0], `"access_key":"TTPACME0001"`) || !strings.Contains(failed[1], `"access_key":"NOSUCH?KEY1"`) {
		t.Errorf("auth.failed events %q, want the access keys, sanitised", failed)
	}
	// The third failure bans the address: then even the right key is refused.
	bad.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("acme")})
	if len(g.events(EventAddrBanned)) != 1 {
		t.Errorf("no auth.banned event after 3 failures")
	}
	_, err = g.client("acme").ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("acme")})
	wantS3Code(t, "banned address, right key", err, "AccessDenied")
}

// multipart uploads parts of the given sizes to upload/NAME as tenant
// acme and returns the upload id, the parts' data and the completed parts.
func (g *s3gw) multipart(c *s3.Client, name string, sizes ...int) (string, [][]byte, []types.CompletedPart) {
	g.t.Helper()
	ctx := context.Background()
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("acme"), Key: aws.String("upload/" + name)})
	if err != nil {
		g.t.Fatal(err)
	}
	var data [][]byte
	var parts []types.CompletedPart
	for i, n := range sizes {
		b := ageBytes(n)
		if i > 0 {
			b[0] = 'x' // only part 1 starts the file
		}
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("acme"), Key: aws.String("upload/" + name),
			UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b)})
		if err != nil {
			g.t.Fatalf("part %d: %v", i+1, err)
		}
		if aws.ToString(out.ETag) != s3MD5ETag(b) {
			g.t.Errorf("part %d: ETag %s, want %s", i+1, aws.ToString(out.ETag), s3MD5ETag(b))
		}
		data = append(data, b)
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	return aws.ToString(cr.UploadId), data, parts
}

func TestS3Multipart(t *testing.T) {
	g := startS3(t, nil)
	c := g.client("acme")
	const name = "lvr1-2026.csv.age"
	id, data, parts := g.multipart(c, name, 5<<20, 5<<20, 5<<20)

	lp, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: aws.String("acme"), Key: aws.String("upload/" + name), UploadId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if len(lp.Parts) != 3 || aws.ToInt64(lp.Parts[2].Size) != 5<<20 || aws.ToString(lp.Parts[1].ETag) != aws.ToString(parts[1].ETag) {
		t.Errorf("ListParts: %+v", lp.Parts)
	}
	lu, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String("acme")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != id || aws.ToString(lu.Uploads[0].Key) != "upload/"+name {
		t.Errorf("ListMultipartUploads: %+v", lu.Uploads)
	}
	if len(g.deliveries("acme")) != 0 {
		t.Error("a delivery before the upload is complete")
	}
	// Another tenant knows nothing of it.
	_, err = g.client("zon").ListParts(t.Context(), &s3.ListPartsInput{Bucket: aws.String("acme"), Key: aws.String("upload/" + name), UploadId: &id})
	wantS3Code(t, "ListParts by another tenant", err, "AccessDenied")

	out, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("acme"),
		Key: aws.String("upload/" + name), UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
	all := md5.New()
	for _, b := range data {
		sum := md5.Sum(b)
		all.Write(sum[:])
	}
	if want := fmt.Sprintf(`"%x-3"`, all.Sum(nil)); aws.ToString(out.ETag) != want {
		t.Errorf("ETag %s, want %s", aws.ToString(out.ETag), want)
	}
	g.checkDelivery("acme", name, bytes.Join(data, nil))
	if keys := g.storeKeys("multipart/"); len(keys) != 0 {
		t.Errorf("left under multipart/: %q", keys)
	}
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String("acme"), Key: aws.String("upload/" + name),
		UploadId: &id, PartNumber: aws.Int32(1), Body: bytes.NewReader(ageBytes(100))})
	wantS3Code(t, "UploadPart after completion", err, "NoSuchUpload")
}

func TestS3MultipartSlowComplete(t *testing.T) {
	// Past the keepalive interval the answer is 200 with white space, then
	// the result: the SDK must read it as success.
	g := startS3(t, func(s *s3Setup) { s.Server = func(srv *S3Server) { srv.keepalive = 20 * time.Millisecond } })
	c := g.client("acme")
	id, data, parts := g.multipart(c, "slow.age", 5<<20, 3<<20)
	if _, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("acme"),
		Key: aws.String("upload/slow.age"), UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	g.checkDelivery("acme", "slow.age", bytes.Join(data, nil))

	// A part that changed in the store after it was uploaded: the error
	// comes in the 200 answer, after the white space.
	id, _, parts = g.multipart(c, "changed.age", 5<<20, 1000)
	if err := store.PutBytes(t.Context(), g.st, partKey("acme", id, 2), ageBytes(1000)); err != nil {
		t.Fatal(err)
	}
	_, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("acme"),
		Key: aws.String("upload/changed.age"), UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	wantS3Code(t, "complete with a changed part", err, "InvalidPart")
	if n := len(g.deliveries("acme")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	if keys := g.storeKeys("landed/"); len(keys) != 2 {
		t.Errorf("landed/ holds %q, want only the first delivery", keys)
	}
}

func TestS3Shutdown(t *testing.T) {
	g := startS3(t, nil)
	// An upload in progress when the shutdown begins finishes within the
	// grace period and becomes a delivery...
	data := ageBytes(1 << 20)
	slow := &s3StallingReader{data: data[:512<<10], closed: make(chan struct{})}
	rest := io.MultiReader(slow, bytes.NewReader(data[512<<10:]))
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := g.httpClient().Do(g.signed("acme", http.MethodPut, "/acme/upload/during.age", io.NopCloser(rest), int64(len(data))))
		done <- result{resp, err}
	}()
	s3WaitFor(t, "upload.started", func() bool { return len(g.events(EventUploadStarted)) == 1 })
	stopped := make(chan struct{})
	go func() { g.stop(10 * time.Second); close(stopped) }()
	time.Sleep(100 * time.Millisecond)
	// ...while new connections are refused.
	if _, err := g.httpClient().Get(g.url + "/acme"); err == nil {
		t.Error("new request during shutdown succeeded")
	}
	slow.Close() // the rest of the body comes
	r := <-done
	if r.err != nil {
		t.Fatalf("upload during shutdown: %v", r.err)
	}
	r.resp.Body.Close()
	if r.resp.StatusCode != http.StatusOK {
		t.Errorf("upload during shutdown: %s", r.resp.Status)
	}
	<-stopped
	g.checkDelivery("acme", "during.age", data)
}

func TestS3ShutdownAbortsStalled(t *testing.T) {
	g := startS3(t, nil)
	body := &s3StallingReader{data: ageBytes(64 << 10), closed: make(chan struct{})}
	t.Cleanup(func() { body.Close() })
	go func() {
		resp, err := g.httpClient().Do(g.signed("acme", http.MethodPut, "/acme/upload/stalled.age", body, 1<<20))
		if err == nil {
			resp.Body.Close()
		}
	}()
	s3WaitFor(t, "upload.started", func() bool { return len(g.events(EventUploadStarted)) == 1 })
	start := time.Now()
	g.stop(300 * time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if keys := g.storeKeys(""); len(keys) != 0 {
		t.Errorf("store holds %q after the shutdown", keys)
	}
	if evs := g.events(EventUploadAborted); len(evs) != 1 {
		t.Errorf("upload.aborted events %q, want 1", evs)
	}
}

func TestS3MultipartAbort(t *testing.T) {
	g := startS3(t, nil)
	c := g.client("acme")
	id, _, _ := g.multipart(c, "a.age", 5<<20, 1000)
	if len(g.storeKeys("multipart/acme/")) == 0 {
		t.Fatal("no parts stored")
	}
	if _, err := c.AbortMultipartUpload(t.Context(), &s3.AbortMultipartUploadInput{Bucket: aws.String("acme"), Key: aws.String("upload/a.age"), UploadId: &id}); err != nil {
		t.Fatal(err)
	}
	if keys := g.storeKeys(""); len(keys) != 0 {
		t.Errorf("store holds %q after the abort, want nothing", keys)
	}
	_, err := c.AbortMultipartUpload(t.Context(), &s3.AbortMultipartUploadInput{Bucket: aws.String("acme"), Key: aws.String("upload/a.age"), UploadId: &id})
	wantS3Code(t, "second abort", err, "NoSuchUpload")
}

func TestS3MultipartRefused(t *testing.T) {
	g := startS3(t, func(s *s3Setup) { s.Limits.MaxFileSize = 12 << 20 })
	c := g.client("acme")
	complete := func(name, id string, parts []types.CompletedPart) error {
		_, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("acme"),
			Key: aws.String("upload/" + name), UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		return err
	}

	// Plaintext in part 1 is refused before it is stored.
	cr, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String("acme"), Key: aws.String("upload/p.age")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String("acme"), Key: aws.String("upload/p.age"),
		UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(bytes.Repeat([]byte("bsn;naam\n"), 1000))})
	wantS3Code(t, "plaintext part 1", err, "InvalidRequest")
	if err != nil && !strings.Contains(err.Error(), "not_encrypted") {
		t.Errorf("plaintext part 1: %v does not say not_encrypted", err)
	}
	if keys := g.storeKeys("multipart/acme/" + aws.ToString(cr.UploadId) + "/part-"); len(keys) != 0 {
		t.Errorf("plaintext part stored: %q", keys)
	}

	// Parts too small, a wrong ETag, parts out of order, a part missing.
	id, _, parts := g.multipart(c, "small.age", 1000, 1000)
	err = complete("small.age", id, parts)
	wantS3Code(t, "parts below 5 MiB", err, "EntityTooSmall")
	wrong := slices.Clone(parts)
	wrong[1].ETag = aws.String(`"00000000000000000000000000000000"`)
	wantS3Code(t, "wrong ETag", complete("small.age", id, wrong), "InvalidPart")
	wantS3Code(t, "out of order", complete("small.age", id, []types.CompletedPart{parts[1], parts[0]}), "InvalidPartOrder")
	wantS3Code(t, "missing part", complete("small.age", id, []types.CompletedPart{parts[0], {ETag: parts[1].ETag, PartNumber: aws.Int32(7)}}), "InvalidPart")
	wantS3Code(t, "wrong key", complete("other.age", id, parts[:1]), "NoSuchUpload")
	wantS3Code(t, "unknown upload", complete("small.age", strings.Repeat("0", 32), parts[:1]), "NoSuchUpload")
	wantS3Code(t, "forged upload id", complete("small.age", "../../landed", parts[:1]), "NoSuchUpload")

	// Larger than max_file_size in all.
	id, _, parts = g.multipart(c, "big.age", 5<<20, 5<<20)
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String("acme"), Key: aws.String("upload/big.age"),
		UploadId: &id, PartNumber: aws.Int32(3), Body: bytes.NewReader(make([]byte, 3<<20))})
	wantS3Code(t, "part past max_file_size", err, "EntityTooLarge")

	if len(g.deliveries("acme")) != 0 {
		t.Error("a delivery was made")
	}
	if keys := g.storeKeys("landed/"); len(keys) != 0 {
		t.Errorf("landed/ holds %q", keys)
	}
}

func TestS3MultipartLimit(t *testing.T) {
	g := startS3(t, nil)
	c := g.client("acme")
	for i := range s3MaxMultipart {
		if _, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String("acme"),
			Key: aws.String(fmt.Sprintf("upload/f%d.age", i))}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String("acme"), Key: aws.String("upload/one-more.age")})
	wantS3Code(t, "upload 17", err, "InvalidRequest")
	// Another tenant has its own count.
	if _, err := g.client("zon").CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String("zon"), Key: aws.String("upload/z.age")}); err != nil {
		t.Errorf("zon: %v", err)
	}
}

func TestS3MultipartExpiry(t *testing.T) {
	const expiry = 300 * time.Millisecond
	g := startS3(t, func(s *s3Setup) { s.Options.MultipartExpiry = expiry })
	c := g.client("acme")
	g.multipart(c, "abandoned.age", 1000)
	s3WaitFor(t, "removal of the expired upload", func() bool {
		// The janitor removes while this lists: a listing may fail.
		for _, err := range g.st.List(t.Context(), "multipart/") {
			return false && err == nil
		}
		return true
	})
	s3WaitFor(t, "upload.aborted", func() bool { return len(g.events(EventUploadAborted)) > 0 })
	if evs := g.events(EventUploadAborted); len(evs) != 1 || !strings.Contains(evs[0], "multipart_expired") {
		t.Errorf("upload.aborted events %q, want one of multipart_expired", evs)
	}
}

func TestS3PlainHTTPRefused(t *testing.T) {
	g := startS3(t, nil)
	// TLS only, 1.2 at least.
	resp, err := http.Get("http://" + g.addr + "/acme")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP: %s", resp.Status)
		}
	}
	conn, err := tls.Dial("tcp", g.addr, &tls.Config{RootCAs: g.pool, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10})
	if err == nil {
		conn.Close()
		t.Error("TLS 1.1 handshake succeeded")
	}
	conn, err = tls.Dial("tcp", g.addr, &tls.Config{RootCAs: g.pool, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}})
	if err == nil {
		conn.Close()
		t.Error("TLS 1.2 with a CBC cipher suite succeeded")
	}
	conn, err = tls.Dial("tcp", g.addr, &tls.Config{RootCAs: g.pool, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Errorf("TLS 1.2: %v", err)
	} else {
		conn.Close()
	}
}

func TestS3RequestID(t *testing.T) {
	g := startS3(t, nil)
	resp, err := g.httpClient().Get(g.url + "/acme/outbox/x.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("x-amz-request-id")
	if resp.StatusCode != http.StatusForbidden || id == "" || !bytes.Contains(body, []byte("<RequestId>"+id+"</RequestId>")) ||
		!bytes.Contains(body, []byte("<Code>AccessDenied</Code>")) || !bytes.Contains(body, []byte("<Resource>/acme/outbox/x.json</Resource>")) {
		t.Errorf("anonymous request: %s, request id %q, body %s", resp.Status, id, body)
	}
}

// signed returns a request of tenant signed in its headers (AWS Signature
// Version 4), with an unsigned payload of length bytes read from body.
func (g *s3gw) signed(tenant, method, path string, body io.Reader, length int64) *http.Request {
	g.t.Helper()
	req, err := http.NewRequest(method, g.url+path, body)
	if err != nil {
		g.t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	ak, sk := g.creds(tenant)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req,
		"UNSIGNED-PAYLOAD", "s3", s3TestRegion, time.Now()); err != nil {
		g.t.Fatal(err)
	}
	return req
}

// s3StallingReader yields its data, then blocks until closed; then it ends.
type s3StallingReader struct {
	data   []byte
	closed chan struct{}
	once   sync.Once
}

func (s *s3StallingReader) Read(p []byte) (int, error) {
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		return n, nil
	}
	<-s.closed
	return 0, io.EOF
}

func (s *s3StallingReader) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func TestS3StalledUpload(t *testing.T) {
	g := startS3(t, func(s *s3Setup) { s.Server = func(srv *S3Server) { srv.bodyTimeout = 200 * time.Millisecond } })
	body := &s3StallingReader{data: ageBytes(64 << 10), closed: make(chan struct{})}
	t.Cleanup(func() { body.Close() })
	resp, err := g.httpClient().Do(g.signed("acme", http.MethodPut, "/acme/upload/stall.age", body, 1<<20))
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(b, []byte("<Code>RequestTimeout</Code>")) {
			t.Errorf("stalled upload: %s %s, want 400 RequestTimeout", resp.Status, b)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(g.events(EventUploadAborted)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("stalled upload not aborted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if keys := g.storeKeys(""); len(keys) != 0 {
		t.Errorf("store holds %q after a stalled upload", keys)
	}
}

func TestS3VirtualHostRefused(t *testing.T) {
	g := startS3(t, nil)
	req, err := http.NewRequest(http.MethodGet, g.url+"/outbox/x.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "acme.s3.localhost"
	req.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	ak, sk := g.creds("acme")
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "s3", s3TestRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := g.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("path-style")) {
		t.Errorf("virtual-hosted-style request: %s %s, want 400 saying to use path-style", resp.Status, body)
	}
}

func TestS3Presigned(t *testing.T) {
	g := startS3(t, nil)
	pc := s3.NewPresignClient(g.client("acme"))
	data := ageBytes(10_000)
	put, err := pc.PresignPutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/presigned.age")})
	if err != nil {
		t.Fatal(err)
	}
	g.sendPresigned(t, put.Method, put.URL, put.SignedHeader, data)
	g.checkDelivery("acme", "presigned.age", data)

	report := []byte(`{"status": "accepted"}`)
	if err := store.PutBytes(t.Context(), g.st, "outbox/acme/r.json", report); err != nil {
		t.Fatal(err)
	}
	get, err := pc.PresignGetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/r.json")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := g.httpClient().Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, report) {
		t.Errorf("presigned GET: %s %q, want %q", resp.Status, body, report)
	}
}
