package store_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/store/storetest"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// newS3 opens an S3 store on a fresh bucket of m.
func newS3(t *testing.T, m *testenv.MinIO, prefix string) *store.S3 {
	t.Helper()
	s, err := store.NewS3(t.Context(), store.S3Options{
		Endpoint: m.Endpoint, Bucket: m.Bucket(t), Prefix: prefix,
		AccessKey: m.AccessKey, SecretKey: m.SecretKey,
		Secure: m.Secure, TLSConfig: &tls.Config{RootCAs: m.RootCAs},
		PartSize: store.MinPartSize,
	})
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{})
	storetest.Run(t, func(t *testing.T) store.Store { return newS3(t, m, "") })
}

// TestS3ConformanceTLSPrefix runs the suite over HTTPS, verified against the
// server's certificate, with every store under its own prefix in one bucket.
func TestS3ConformanceTLSPrefix(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{TLS: true})
	storetest.Run(t, func(t *testing.T) store.Store { return newS3(t, m, "ttp/"+strings.ReplaceAll(t.Name(), "/", "-")) })
}

// TestS3Multipart: an object of several parts is stored whole, and nothing
// is left of an upload whose reader fails in the third part.
func TestS3Multipart(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{})
	s := newS3(t, m, "p")
	ctx := t.Context()
	for _, size := range []int{store.MinPartSize, store.MinPartSize + 1, 3*store.MinPartSize - 7} {
		data := bytes.Repeat([]byte{byte(size)}, size)
		data[size/2] = 'x'
		if err := s.Put(ctx, "mp", bytes.NewReader(data)); err != nil {
			t.Fatalf("Put of %d bytes: %v", size, err)
		}
		got, err := store.ReadAll(ctx, s, "mp", int64(size))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v), want %d", len(got), err, size)
		}
	}
	err := s.Put(ctx, "broken", io.MultiReader(bytes.NewReader(make([]byte, 2*store.MinPartSize+100)), errorReader{}))
	if err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if _, err := s.Stat(ctx, "broken"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("Stat after a failed upload: %v, want ErrNotExist", err)
	}
	wantNoUploads(t, m)
}

type errorReader struct{}

func (errorReader) Read([]byte) (int, error) { return 0, errors.New("disk gone") }

// wantNoUploads checks that no multipart upload is left in any bucket.
func wantNoUploads(t *testing.T, m *testenv.MinIO) {
	t.Helper()
	buckets, err := m.Client.ListBuckets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		for u := range m.Client.ListIncompleteUploads(t.Context(), b.Name, "", true) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			t.Errorf("incomplete upload left in %s: %s", b.Name, u.Key)
		}
	}
}

// TestS3CreateMultipart: a Create of several parts loses against an object
// created meanwhile, decided by the condition on completion.
func TestS3CreateMultipart(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{})
	s := newS3(t, m, "")
	ctx := t.Context()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.Create(ctx, "claim", pr) }()
	// The first part is on its way; another writer creates the key.
	if _, err := pw.Write(make([]byte, store.MinPartSize+1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "claim", strings.NewReader("first")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; !errors.Is(err, store.ErrExist) {
		t.Errorf("the slower Create: %v, want ErrExist", err)
	}
	got, _ := store.ReadAll(ctx, s, "claim", 100)
	if string(got) != "first" {
		t.Errorf("claim holds %q, want %q", got, "first")
	}
	wantNoUploads(t, m)
}

// TestS3Refusals: a wrong secret, a missing bucket and an unverifiable
// certificate stop NewS3 with a clear error.
func TestS3Refusals(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{TLS: true})
	bucket := m.Bucket(t)
	base := store.S3Options{Endpoint: m.Endpoint, Bucket: bucket, AccessKey: m.AccessKey, SecretKey: m.SecretKey,
		Secure: true, TLSConfig: &tls.Config{RootCAs: m.RootCAs}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := store.NewS3(ctx, base); err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	cases := []struct {
		name string
		edit func(*store.S3Options)
		want string
	}{
		{"wrong secret", func(o *store.S3Options) { o.SecretKey = "wrong-secret-key" }, "signature we calculated does not match"},
		{"no bucket", func(o *store.S3Options) { o.Bucket = "absent-bucket" }, "bucket absent-bucket does not exist"},
		{"system roots", func(o *store.S3Options) { o.TLSConfig = nil }, "certificate signed by unknown authority"},
		{"small parts", func(o *store.S3Options) { o.PartSize = 1 << 20 }, "part size 1048576 is outside"},
	}
	for _, c := range cases {
		o := base
		c.edit(&o)
		_, err := store.NewS3(ctx, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewS3 error %v, want one containing %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), m.SecretKey) {
			t.Errorf("%s: error reveals the secret key", c.name)
		}
	}
}

// answerDropper passes requests to MinIO but loses the answer to the first
// conditional PUT and the first CompleteMultipartUpload of each key: the
// write is done, the client gets a 502 and retries, as when a connection
// breaks after the server acted.
type answerDropper struct {
	mu      sync.Mutex
	dropped map[string]bool
}

func (d *answerDropper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	kind := ""
	switch {
	case r.Method == http.MethodPut && r.Header.Get("If-None-Match") != "":
		kind = "create"
	case r.Method == http.MethodPut && r.Header.Get("If-Match") != "":
		kind = "replace"
	case r.Method == http.MethodPost && r.URL.Query().Has("uploadId"):
		kind = "complete"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if kind == "" || resp.StatusCode != http.StatusOK || d.dropped[kind+" "+r.URL.Path] {
		return resp, nil
	}
	d.dropped[kind+" "+r.URL.Path] = true
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("test: answer lost")
}

// TestS3LostAnswers: a write that succeeded but whose answer was lost is a
// success, although minio-go's retry of it fails (its condition, or its
// upload id, is used up); a write that really lost stays an error.
func TestS3LostAnswers(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{})
	target, err := url.Parse("http://" + m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	dropper := &answerDropper{dropped: map[string]bool{}}
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // signed by the client
		},
		Transport: dropper,
		ErrorLog:  log.New(io.Discard, "", 0),
	})
	defer proxy.Close()
	s, err := store.NewS3(t.Context(), store.S3Options{Endpoint: strings.TrimPrefix(proxy.URL, "http://"), Bucket: m.Bucket(t),
		AccessKey: m.AccessKey, SecretKey: m.SecretKey, PartSize: store.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	big := bytes.Repeat([]byte("b"), store.MinPartSize+100)

	if err := s.Create(ctx, "claim", strings.NewReader("mine")); err != nil {
		t.Errorf("Create whose answer was lost: %v, want nil", err)
	}
	info, err := s.Stat(ctx, "claim")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, "claim", strings.NewReader("mine again"), info.ETag); err != nil {
		t.Errorf("Replace whose answer was lost: %v, want nil", err)
	}
	if err := s.Put(ctx, "big", bytes.NewReader(big)); err != nil {
		t.Errorf("multipart Put whose completion answer was lost: %v, want nil", err)
	}
	if err := s.Create(ctx, "big-claim", bytes.NewReader(big)); err != nil {
		t.Errorf("multipart Create whose completion answer was lost: %v, want nil", err)
	}
	for key, want := range map[string][]byte{"claim": []byte("mine again"), "big": big, "big-claim": big} {
		if got, err := store.ReadAll(ctx, s, key, int64(len(big))); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s holds %d bytes (%v), want %d", key, len(got), err, len(want))
		}
	}
	if len(dropper.dropped) != 4 {
		t.Errorf("%d answers lost, want 4: %v", len(dropper.dropped), dropper.dropped)
	}
	// Losing for real is still losing.
	if err := s.Create(ctx, "claim", strings.NewReader("theirs")); !errors.Is(err, store.ErrExist) {
		t.Errorf("Create of a taken key: %v, want ErrExist", err)
	}
	if err := s.Replace(ctx, "claim", strings.NewReader("theirs"), info.ETag); !errors.Is(err, store.ErrChanged) {
		t.Errorf("Replace of a changed key: %v, want ErrChanged", err)
	}
}
