package gateway

// Real S3 clients against the running endpoint on 127.0.0.1: aws-sdk-go-v2
// (every payload mode it can produce, the upload manager, presigned URLs),
// minio-go, the AWS CLI v2, rclone and s3cmd; and the refusals a client
// sees, each with its exact S3 error code.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// awsCLI is the AWS CLI v2 the tests use: /usr/bin/aws, by its absolute
// path, since a v1 `aws` may come earlier on PATH.
const awsCLI = "/usr/bin/aws"

// s3cliAWS returns awsCLI, or skips (fails under CI) when it is missing.
func s3cliAWS(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		testenv.Missing(t, awsCLI+" (AWS CLI v2)", "apt-get install -y awscli")
	}
	return awsCLI
}

// s3RecordedRequest is what a client put on the wire, before the body.
type s3RecordedRequest struct {
	Method, Path string
	Header       http.Header
}

// s3Recorder is an http.RoundTripper that records every request's method,
// path and headers, and may change the request body in flight.
type s3Recorder struct {
	next http.RoundTripper
	body func(io.ReadCloser) io.ReadCloser // when set, wraps each request body

	mu   sync.Mutex
	reqs []s3RecordedRequest
}

func (r *s3Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, s3RecordedRequest{Method: req.Method, Path: req.URL.EscapedPath(), Header: req.Header.Clone()})
	r.mu.Unlock()
	if r.body != nil && req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = r.body(req.Body)
	}
	return r.next.RoundTrip(req)
}

// puts returns the recorded PUT requests.
func (r *s3Recorder) puts() []s3RecordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []s3RecordedRequest
	for _, q := range r.reqs {
		if q.Method == http.MethodPut {
			out = append(out, q)
		}
	}
	return out
}

// recordingClient returns an SDK client of tenant (the defaults of
// g.client) whose requests rec records.
func (g *s3gw) recordingClient(tenant string, rec *s3Recorder, optFns ...func(*s3.Options)) *s3.Client {
	rec.next = g.httpClient().Transport
	return g.client(tenant, append([]func(*s3.Options){func(o *s3.Options) {
		o.HTTPClient = &http.Client{Transport: rec, Timeout: 5 * time.Minute}
	}}, optFns...)...)
}

func s3SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// storedSHA256 hashes the stored bytes of delivery id of tenant, read from
// the store's landed/<tenant>/<id>/data, so that any chunk framing left in
// the object shows.
func (g *s3gw) storedSHA256(tenant, id string) string {
	g.t.Helper()
	key := delivery.DataKey(tenant, id)
	if want := "landed/" + tenant + "/" + id + "/data"; key != want {
		g.t.Errorf("data key %s, want %s", key, want)
	}
	b, err := store.ReadAll(context.Background(), g.st, key, 1<<30)
	if err != nil {
		g.t.Fatal(err)
	}
	return s3SHA256Hex(b)
}

// checkNewDelivery checks that tenant has exactly one more delivery than
// before, of name, with the file's SHA-256, and that its stored bytes hash
// to it too; it returns the delivery.
func (g *s3gw) checkNewDelivery(tenant, name string, data []byte, before int) delivery.Meta {
	g.t.Helper()
	ds := g.deliveries(tenant)
	if len(ds) != before+1 {
		g.t.Fatalf("%d deliveries of %s, want %d", len(ds), tenant, before+1)
	}
	m := ds[len(ds)-1]
	want := s3SHA256Hex(data)
	if m.FileName != name || m.SHA256 != want || m.Size != int64(len(data)) || m.Channel != delivery.ChannelS3 {
		g.t.Errorf("delivery %+v, want file %s, size %d, sha256 %s over s3", m, name, len(data), want)
	}
	if got := g.storedSHA256(tenant, m.ID); got != want {
		g.t.Errorf("stored bytes of %s hash to %s, want %s", name, got, want)
	}
	return m
}

// noMultipartLeft checks that no multipart upload state is left in the store.
func (g *s3gw) noMultipartLeft() {
	g.t.Helper()
	if keys := g.storeKeys("multipart/"); len(keys) != 0 {
		g.t.Errorf("multipart/ holds %d keys after the upload: %q", len(keys), keys[:min(len(keys), 5)])
	}
}

// writeTemp writes data to a file in a fresh temporary folder.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestS3ClientSDKPutObjectDefaultChecksum(t *testing.T) {
	g := startS3(t, nil)
	rec := &s3Recorder{}
	c := g.recordingClient("acme", rec, func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	})
	data := ageBytes(1<<20 + 4321)
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/sdk-default.age"),
		Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	puts := rec.puts()
	if len(puts) != 1 {
		t.Fatalf("%d PUT requests, want 1", len(puts))
	}
	h := puts[0].Header
	if got := h.Get("X-Amz-Content-Sha256"); got != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" {
		t.Errorf("the SDK sent x-amz-content-sha256 %q, want STREAMING-UNSIGNED-PAYLOAD-TRAILER", got)
	}
	if got := h.Get("X-Amz-Trailer"); got != "x-amz-checksum-crc32" {
		t.Errorf("the SDK sent x-amz-trailer %q, want x-amz-checksum-crc32", got)
	}
	if got := h.Get("Content-Encoding"); !strings.Contains(got, "aws-chunked") {
		t.Errorf("the SDK sent Content-Encoding %q, want aws-chunked", got)
	}
	if got := h.Get("X-Amz-Decoded-Content-Length"); got != strconv.Itoa(len(data)) {
		t.Errorf("x-amz-decoded-content-length %q, want %d", got, len(data))
	}
	g.checkNewDelivery("acme", "sdk-default.age", data, 0)
}

func TestS3ClientSDKUploadManager(t *testing.T) {
	g := startS3(t, nil)
	rec := &s3Recorder{}
	c := g.recordingClient("acme", rec)
	data := ageBytes(17 << 20)
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20 })
	out, err := up.Upload(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/manager.age"),
		Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if out.UploadID == "" {
		t.Error("the upload manager did not go multipart")
	}
	parts := 0
	for _, q := range rec.puts() {
		if strings.HasPrefix(q.Path, "/acme/upload/manager.age") {
			parts++
		}
	}
	if parts != 4 { // 5 + 5 + 5 + 2 MiB
		t.Errorf("%d part uploads, want 4", parts)
	}
	g.checkNewDelivery("acme", "manager.age", data, 0)
	g.noMultipartLeft()
}

// TestS3ClientSDKPayloadModes uploads with every payload mode the SDK can
// produce and checks the stored bytes hash to the file's SHA-256.
func TestS3ClientSDKPayloadModes(t *testing.T) {
	g := startS3(t, nil)
	data := ageBytes(200_000 + 17)
	n := 0
	check := func(t *testing.T, name string) {
		t.Helper()
		old := g.t
		g.t = t
		defer func() { g.t = old }()
		g.checkNewDelivery("acme", name, data, n)
		n++
	}

	t.Run("UNSIGNED-PAYLOAD presigned", func(t *testing.T) {
		pc := s3.NewPresignClient(g.client("acme"))
		put, err := pc.PresignPutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/presigned.age")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(put.URL, "X-Amz-Signature=") {
			t.Fatalf("presigned URL %s has no signature", put.URL)
		}
		g.sendPresigned(t, put.Method, put.URL, put.SignedHeader, data)
		check(t, "presigned.age")
	})

	t.Run("signed hex sha256", func(t *testing.T) {
		rec := &s3Recorder{}
		hash := s3SHA256Hex(data)
		c := g.recordingClient("acme", rec, func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
				return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("SetPayloadHash",
					func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
						return next.HandleFinalize(v4.SetPayloadHash(ctx, hash), in)
					}), middleware.Before)
			})
		})
		if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/signed.age"),
			Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		puts := rec.puts()
		if len(puts) != 1 || puts[0].Header.Get("X-Amz-Content-Sha256") != hash || puts[0].Header.Get("Content-Encoding") != "" {
			t.Fatalf("the SDK sent %+v, want one PUT with x-amz-content-sha256 %s and no content encoding", puts, hash)
		}
		check(t, "signed.age")
	})

	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
		types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
		lower := strings.ToLower(string(alg))
		t.Run("STREAMING-UNSIGNED-PAYLOAD-TRAILER "+lower, func(t *testing.T) {
			rec := &s3Recorder{}
			c := g.recordingClient("acme", rec, func(o *s3.Options) {
				o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
			})
			name := "trailer-" + lower + ".age"
			if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/" + name),
				Body: bytes.NewReader(data), ChecksumAlgorithm: alg}); err != nil {
				t.Fatal(err)
			}
			puts := rec.puts()
			if len(puts) != 1 {
				t.Fatalf("%d PUT requests, want 1", len(puts))
			}
			h := puts[0].Header
			if h.Get("X-Amz-Content-Sha256") != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || h.Get("X-Amz-Trailer") != "x-amz-checksum-"+lower {
				t.Errorf("the SDK sent x-amz-content-sha256 %q, x-amz-trailer %q; want STREAMING-UNSIGNED-PAYLOAD-TRAILER, x-amz-checksum-%s",
					h.Get("X-Amz-Content-Sha256"), h.Get("X-Amz-Trailer"), lower)
			}
			check(t, name)
		})
	}
}

func TestS3ClientMinio(t *testing.T) {
	g := startS3(t, nil)
	ak, sk := g.creds("acme")
	mc, err := minio.New(g.addr, &minio.Options{
		Creds: miniocreds.NewStaticV4(ak, sk, ""), Secure: true, Region: s3TestRegion,
		Transport:    g.httpClient().Transport,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tc := range []struct {
		name string
		data []byte
		size int64
	}{
		{"known-size.age", ageBytes(3<<20 + 5), -2},
		{"streaming.age", ageBytes(12<<20 + 77), -1}, // unknown size: multipart, 5 MiB parts
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := g.t
			g.t = t
			defer func() { g.t = old }()
			size := tc.size
			if size == -2 {
				size = int64(len(tc.data))
			}
			info, err := mc.PutObject(t.Context(), "acme", "upload/"+tc.name, bytes.NewReader(tc.data), size,
				minio.PutObjectOptions{PartSize: 5 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != int64(len(tc.data)) {
				t.Errorf("minio-go reports size %d, want %d", info.Size, len(tc.data))
			}
			g.checkNewDelivery("acme", tc.name, tc.data, n)
			n++
			g.noMultipartLeft()
		})
	}
}

// s3cliRun runs a command with env added to a minimal environment and
// returns its combined output and error.
func s3cliRun(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// awsEnv is the environment of the AWS CLI as tenant: no user
// configuration, the endpoint's certificate trusted.
func (g *s3gw) awsEnv(tenant string) []string {
	ak, sk := g.creds(tenant)
	return []string{"AWS_ACCESS_KEY_ID=" + ak, "AWS_SECRET_ACCESS_KEY=" + sk, "AWS_DEFAULT_REGION=" + s3TestRegion,
		"AWS_CA_BUNDLE=" + g.caFile, "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
}

func TestS3ClientAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB upload with the AWS CLI")
	}
	cli := s3cliAWS(t)
	g := startS3(t, nil)
	data := ageBytes(100 << 20)
	file := writeTemp(t, "big.csv.age", data)
	out, err := s3cliRun(t, g.awsEnv("acme"), cli, "--endpoint-url", g.url, "s3", "cp", file, "s3://acme/upload/big.csv.age", "--no-progress")
	if err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	g.checkNewDelivery("acme", "big.csv.age", data, 0)
	g.noMultipartLeft()
	if n := len(g.events(EventUploadCommitted)); n != 1 {
		t.Errorf("%d upload.committed events, want 1", n)
	}
}

// rcloneEnv configures the rclone remote "ttp" as tenant.
func (g *s3gw) rcloneEnv(tenant string) []string {
	ak, sk := g.creds(tenant)
	return []string{"RCLONE_CONFIG=" + filepath.Join(g.dir, "rclone.conf"),
		"RCLONE_CONFIG_TTP_TYPE=s3", "RCLONE_CONFIG_TTP_PROVIDER=Other", "RCLONE_CONFIG_TTP_ENDPOINT=" + g.url,
		"RCLONE_CONFIG_TTP_ACCESS_KEY_ID=" + ak, "RCLONE_CONFIG_TTP_SECRET_ACCESS_KEY=" + sk,
		"RCLONE_CONFIG_TTP_FORCE_PATH_STYLE=true", "RCLONE_CONFIG_TTP_REGION=" + s3TestRegion}
}

func TestS3ClientRclone(t *testing.T) {
	rclone := testenv.Tool(t, "rclone", "apt-get install -y rclone")
	g := startS3(t, nil)
	n := 0
	for _, tc := range []struct {
		name  string
		size  int
		extra []string
	}{
		{"single.age", 3<<20 + 9, nil},
		{"multipart.age", 12<<20 + 3, []string{"--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := g.t
			g.t = t
			defer func() { g.t = old }()
			data := ageBytes(tc.size)
			file := writeTemp(t, tc.name, data)
			args := append([]string{"-u", "AWS_CA_BUNDLE", rclone, "copyto", file, "ttp:acme/upload/" + tc.name,
				"--ca-cert", g.caFile, "--s3-no-check-bucket", "--retries", "1", "--low-level-retries", "1"}, tc.extra...)
			out, err := s3cliRun(t, g.rcloneEnv("acme"), "env", args...)
			if err != nil {
				t.Fatalf("rclone copyto: %v\n%s", err, out)
			}
			g.checkNewDelivery("acme", tc.name, data, n)
			n++
			g.noMultipartLeft()
		})
	}
}

func TestS3ClientS3cmd(t *testing.T) {
	s3cmd := testenv.Tool(t, "s3cmd", "apt-get install -y s3cmd")
	g := startS3(t, nil)
	ak, sk := g.creds("acme")
	cfg := filepath.Join(g.dir, "s3cfg")
	if err := os.WriteFile(cfg, []byte("[default]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := ageBytes(2<<20 + 11)
	file := writeTemp(t, "s3cmd.age", data)
	out, err := s3cliRun(t, nil, s3cmd, "-c", cfg, "--access_key="+ak, "--secret_key="+sk, "--host="+g.addr,
		"--host-bucket="+g.addr, "--region="+s3TestRegion, "--ssl", "--ca-certs="+g.caFile, "--no-check-md5",
		"put", file, "s3://acme/upload/s3cmd.age")
	if err != nil {
		t.Fatalf("s3cmd put: %v\n%s", err, out)
	}
	g.checkNewDelivery("acme", "s3cmd.age", data, 0)
}

// s3Do sends req and returns the status and the S3 error code of the answer.
func (g *s3gw) s3Do(req *http.Request) (int, string, string) {
	g.t.Helper()
	resp, err := g.httpClient().Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	code := ""
	if _, rest, ok := strings.Cut(string(body), "<Code>"); ok {
		code, _, _ = strings.Cut(rest, "</Code>")
	}
	return resp.StatusCode, code, string(body)
}

// s3Flip flips one byte at offset off of a request body as it is sent.
type s3Flip struct {
	r   io.ReadCloser
	off int64
	pos int64
}

func (f *s3Flip) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.off >= f.pos && f.off < f.pos+int64(n) {
		p[f.off-f.pos] ^= 0x01
	}
	f.pos += int64(n)
	return n, err
}

func (f *s3Flip) Close() error { return f.r.Close() }

// s3StreamingSigned returns a PUT of data to path as tenant with a
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD body (chunks of chunk bytes signed by
// the SDK's stream signer, chained from the request's signature) and the
// encoded body.
func (g *s3gw) s3StreamingSigned(tenant, path string, data []byte, chunk int) (*http.Request, []byte) {
	g.t.Helper()
	var chunks [][]byte
	for rest := data; len(rest) > 0; {
		n := min(chunk, len(rest))
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	chunks = append(chunks, nil)
	encode := func(sigs [][]byte) []byte {
		var b bytes.Buffer
		for i, ch := range chunks {
			fmt.Fprintf(&b, "%x;chunk-signature=%x\r\n", len(ch), sigs[i])
			b.Write(ch)
			b.WriteString("\r\n")
		}
		return b.Bytes()
	}
	zero := make([][]byte, len(chunks))
	for i := range zero {
		zero[i] = make([]byte, 32)
	}
	length := len(encode(zero))
	req, err := http.NewRequest(http.MethodPut, g.url+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	req.ContentLength = int64(length)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	ak, sk := g.creds(tenant)
	creds := aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}
	now := time.Now()
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", s3TestRegion, now); err != nil {
		g.t.Fatal(err)
	}
	_, seedHex, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	seed, err := hex.DecodeString(seedHex)
	if err != nil {
		g.t.Fatal(err)
	}
	ss := v4.NewStreamSigner(creds, "s3", s3TestRegion, seed)
	sigs := make([][]byte, len(chunks))
	for i, ch := range chunks {
		if sigs[i], err = ss.GetSignature(context.Background(), nil, ch, now); err != nil {
			g.t.Fatal(err)
		}
	}
	body := encode(sigs)
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return req, body
}

// signedRaw returns a request of tenant for path exactly as written (its
// escapes kept), signed in its headers with an UNSIGNED-PAYLOAD.
func (g *s3gw) signedRaw(tenant, method, path string, body []byte) *http.Request {
	g.t.Helper()
	req, err := http.NewRequest(method, g.url+path, bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	// The canonical URI is the decoded path, each segment URI-encoded once
	// (as S3 defines it and the SDK signs a key); the wire carries path.
	decoded, err := url.PathUnescape(path)
	if err != nil {
		g.t.Fatal(err)
	}
	req.URL.Opaque = "//" + g.addr + decoded
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	ak, sk := g.creds(tenant)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req,
		"UNSIGNED-PAYLOAD", "s3", s3TestRegion, time.Now()); err != nil {
		g.t.Fatal(err)
	}
	req.URL.Opaque = "//" + g.addr + path // sent verbatim
	return req
}

func TestS3ClientRefusals(t *testing.T) {
	g := startS3(t, nil)
	ctx := t.Context()
	data := ageBytes(100_000)
	put := func(c *s3.Client, bucket, key string, body []byte) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		return err
	}

	t.Run("wrong secret", func(t *testing.T) {
		ak, _ := g.creds("acme")
		bad := g.client("acme", func(o *s3.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(ak, "not-the-secret-"+strings.Repeat("x", 25), "")
		})
		wantS3Code(t, "PutObject with a wrong secret", put(bad, "acme", "upload/wrong-secret.age", data), "SignatureDoesNotMatch")
	})

	t.Run("expired presigned URL", func(t *testing.T) {
		pc := s3.NewPresignClient(g.client("acme"))
		p, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/expired.age")},
			s3.WithPresignExpires(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.URL, "X-Amz-Expires=1&") && !strings.HasSuffix(p.URL, "X-Amz-Expires=1") {
			t.Fatalf("presigned URL %s does not expire in 1 s", p.URL)
		}
		time.Sleep(2 * time.Second)
		req, err := http.NewRequest(p.Method, p.URL, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		status, code, body := g.s3Do(req)
		if status != http.StatusForbidden || code != "AccessDenied" || !strings.Contains(body, "expired") {
			t.Errorf("expired presigned PUT: %d %s %s, want 403 AccessDenied saying expired", status, code, body)
		}
	})

	t.Run("tampered trailer stream", func(t *testing.T) {
		// The SDK's own aws-chunked body (unsigned chunks, CRC32 trailer)
		// with one byte of the first chunk's data flipped in flight.
		rec := &s3Recorder{body: func(r io.ReadCloser) io.ReadCloser { return &s3Flip{r: r, off: 1000} }}
		c := g.recordingClient("acme", rec, func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
			o.RetryMaxAttempts = 1
		})
		err := put(c, "acme", "upload/tampered-trailer.age", data)
		if puts := rec.puts(); len(puts) != 1 || puts[0].Header.Get("X-Amz-Content-Sha256") != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" {
			t.Fatalf("the SDK sent %+v, want one STREAMING-UNSIGNED-PAYLOAD-TRAILER PUT", puts)
		}
		wantS3Code(t, "PutObject with a byte of a chunk flipped", err, "BadDigest")
	})

	t.Run("tampered signed stream", func(t *testing.T) {
		// A STREAMING-AWS4-HMAC-SHA256-PAYLOAD body with chunk signatures
		// of the SDK's stream signer: first sent as is (accepted), then with
		// one byte of the second chunk flipped.
		good := ageBytes(150_000)
		req, _ := g.s3StreamingSigned("acme", "/acme/upload/signed-stream.age", good, 64<<10)
		if status, code, body := g.s3Do(req); status != http.StatusOK {
			t.Fatalf("signed stream: %d %s %s", status, code, body)
		}
		before := len(g.deliveries("acme"))
		req, body := g.s3StreamingSigned("acme", "/acme/upload/tampered-stream.age", data, 64<<10)
		off := bytes.Index(body, []byte("\r\n")) + 2 + 64<<10 + 2 // the second chunk's header
		off += bytes.Index(body[off:], []byte("\r\n")) + 2 + 10   // into its data
		body[off] ^= 0x01
		req.Body = io.NopCloser(bytes.NewReader(body))
		status, code, resp := g.s3Do(req)
		if status != http.StatusForbidden || code != "SignatureDoesNotMatch" {
			t.Errorf("tampered signed stream: %d %s %s, want 403 SignatureDoesNotMatch", status, code, resp)
		}
		if n := len(g.deliveries("acme")); n != before {
			t.Errorf("%d deliveries after a tampered stream, want %d", n, before)
		}
	})

	t.Run("other tenant's bucket", func(t *testing.T) {
		wantS3Code(t, "PutObject into zon as acme", put(g.client("acme"), "zon", "upload/other.age", data), "AccessDenied")
	})

	t.Run("plaintext", func(t *testing.T) {
		err := put(g.client("acme"), "acme", "upload/plain.csv.age", []byte("bsn,naam\n123456782,Jansen\n"))
		wantS3Code(t, "plaintext PutObject", err, "InvalidRequest")
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
			t.Errorf("plaintext PutObject: %v, want HTTP 400", err)
		}
	})

	for _, tc := range []struct{ key, code string }{
		{"upload/../outbox/x", "AccessDenied"},
		{"upload/../outbox/x.age", "AccessDenied"},
		{"upload/a%2F..%2Fb.age", "InvalidArgument"},
		{"upload/x\x00.age", "AccessDenied"},
		{"outbox/../../landed", "AccessDenied"},
		{"outbox/../upload/x.age", "AccessDenied"},
		{"upload/./x.age", "AccessDenied"},
	} {
		t.Run(fmt.Sprintf("key %q via SDK", tc.key), func(t *testing.T) {
			wantS3Code(t, "PutObject "+tc.key, put(g.client("acme"), "acme", tc.key, data), tc.code)
		})
	}
	// Raw paths the SDK would escape: an encoded slash and dot segments.
	for _, tc := range []struct{ path, code string }{
		{"/acme/upload/a%2F..%2Fb.age", "AccessDenied"},
		{"/acme/upload/..%2F..%2Flanded%2Fx.age", "AccessDenied"},
		{"/acme/upload/%2E%2E/outbox/x.age", "AccessDenied"},
		{"/acme/upload/x%00.age", "AccessDenied"},
	} {
		t.Run("raw path "+tc.path, func(t *testing.T) {
			req := g.signedRaw("acme", http.MethodPut, tc.path, data)
			status, code, body := g.s3Do(req)
			if code != tc.code || status/100 != 4 {
				t.Errorf("PUT %s: %d %s %s, want %s", tc.path, status, code, body, tc.code)
			}
		})
	}

	if n := len(g.deliveries("acme")); n != 1 { // the good signed stream
		t.Errorf("%d deliveries of acme, want 1 (the untampered signed stream)", n)
	}
	if n := len(g.deliveries("zon")); n != 0 {
		t.Errorf("%d deliveries of zon, want 0", n)
	}
	for _, k := range g.storeKeys("") {
		if !strings.HasPrefix(k, "landed/acme/") {
			t.Errorf("store holds %s", k)
		}
	}
}
