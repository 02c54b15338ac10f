package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/store"
)

// metricLines returns the series of the named metrics in reg, one a line
// as `name{label="value",...} value`, sorted.
func metricLines(t testing.TB, reg prometheus.Gatherer, names ...string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if !slices.Contains(names, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			line := mf.GetName()
			if len(labels) > 0 {
				line += "{" + strings.Join(labels, ",") + "}"
			}
			out = append(out, line+" "+strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	slices.Sort(out)
	return out
}

// checkMetrics compares the series of the metrics named in want (each line
// `name{...} value`, any order) with reg's: every series of those metrics,
// exactly.
func checkMetrics(t testing.TB, reg prometheus.Gatherer, want string) {
	t.Helper()
	var wantLines, names []string
	for _, l := range strings.Split(strings.TrimSpace(want), "\n") {
		l = strings.TrimSpace(l)
		wantLines = append(wantLines, l)
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(wantLines)
	got := metricLines(t, reg, names...)
	if !slices.Equal(got, wantLines) {
		t.Errorf("metrics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
}

// scrape returns reg's metrics in the text format, as /metrics serves them.
func scrape(t testing.TB, reg prometheus.Gatherer) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// metricsPlaintext is refused as its first bytes arrive: the upload is
// refused and aborted (a file shorter than crypto.SniffLen is refused only
// when it ends, without an abort).
var metricsPlaintext = bytes.Repeat([]byte("clientnummer;meetdatum;score\nCL1001;2026-01-05;71\n"), 80)

// TestMetricsSFTP: an upload, a plaintext upload and a login with a key
// nobody listed are counted exactly, as the audit log has them, and no
// file name reaches a label.
func TestMetricsSFTP(t *testing.T) {
	g := startGateway(t, nil)
	reg := prometheus.NewRegistry()
	if err := g.d.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	good := ageBytes(10_000)
	g.file("good.age", good)
	g.file("plain.age", metricsPlaintext)
	_, stderr, code := g.sftp("acme", "put good.age /upload/rom-secretname-4711.age\n-put plain.age /upload/plain.age\n")
	if code != 0 {
		t.Fatalf("sftp exited %d: %s", code, stderr)
	}
	g.newKey("intruder")
	if _, _, code := g.sftpAs("acme", g.keys["intruder"], "ls /upload\n"); code == 0 {
		t.Fatal("sftp with an unlisted key succeeded")
	}
	s3WaitFor(t, "the session to be closed", func() bool { return len(g.events(EventDisconnect)) == 1 })
	s3WaitFor(t, "the auth failure", func() bool { return len(g.events(EventAuthFailed)) == 1 })

	checkMetrics(t, reg, `
		ttpgate_gateway_sessions_opened_total{protocol="s3"} 0
		ttpgate_gateway_sessions_opened_total{protocol="sftp"} 1
		ttpgate_gateway_sessions{protocol="s3"} 0
		ttpgate_gateway_sessions{protocol="sftp"} 0
		ttpgate_gateway_uploads_started_total{protocol="s3",tenant="acme"} 0
		ttpgate_gateway_uploads_started_total{protocol="s3",tenant="zon"} 0
		ttpgate_gateway_uploads_started_total{protocol="sftp",tenant="acme"} 2
		ttpgate_gateway_uploads_started_total{protocol="sftp",tenant="zon"} 0
		ttpgate_gateway_uploads_committed_total{protocol="s3",tenant="acme"} 0
		ttpgate_gateway_uploads_committed_total{protocol="s3",tenant="zon"} 0
		ttpgate_gateway_uploads_committed_total{protocol="sftp",tenant="acme"} 1
		ttpgate_gateway_uploads_committed_total{protocol="sftp",tenant="zon"} 0
		ttpgate_gateway_uploads_aborted_total{protocol="s3",tenant="acme"} 0
		ttpgate_gateway_uploads_aborted_total{protocol="s3",tenant="zon"} 0
		ttpgate_gateway_uploads_aborted_total{protocol="sftp",tenant="acme"} 1
		ttpgate_gateway_uploads_aborted_total{protocol="sftp",tenant="zon"} 0
		ttpgate_gateway_received_bytes_total{protocol="s3"} 0
		ttpgate_gateway_received_bytes_total{protocol="sftp"} 10000
		ttpgate_gateway_upload_refusals_total{protocol="sftp",reason="not_encrypted"} 1
		ttpgate_gateway_auth_failures_total{method="publickey",protocol="sftp",reason="key_not_authorized"} 1
		ttpgate_gateway_bans_total 0
		ttpgate_gateway_banned_addresses 0
		ttpgate_gateway_active_uploads{protocol="s3"} 0
		ttpgate_gateway_active_uploads{protocol="sftp"} 0
	`)
	// The audit log says the same.
	for ev, want := range map[string]int{EventAuthSuccess: 1, EventUploadStarted: 2, EventUploadCommitted: 1,
		EventUploadAborted: 1, EventUploadRefused: 1, EventAuthFailed: 1} {
		if got := len(g.events(ev)); got != want {
			t.Errorf("%d %s events, want %d", got, ev, want)
		}
	}
	if text := scrape(t, reg); strings.Contains(text, "secretname") || strings.Contains(text, "plain.age") ||
		strings.Contains(text, "127.0.0.1") || strings.Contains(text, "intruder") {
		t.Errorf("a file name, address or user reached the metrics:\n%s", text)
	}
}

// TestMetricsS3: the same over S3, with a tenant whose secret key is wrong.
func TestMetricsS3(t *testing.T) {
	g := startS3(t, nil)
	reg := prometheus.NewRegistry()
	if err := g.d.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	hc := g.httpClient()
	defer hc.CloseIdleConnections()
	useHC := func(o *s3.Options) { o.HTTPClient, o.RetryMaxAttempts = hc, 1 }
	c := g.client("acme", useHC)
	ctx := t.Context()
	good := ageBytes(10_000)
	put := func(c *s3.Client, name string, data []byte) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String("upload/" + name),
			Body: bytes.NewReader(data)})
		return err
	}
	if err := put(c, "rom-secretname-4711.age", good); err != nil {
		t.Fatal(err)
	}
	if err := put(c, "plain.age", metricsPlaintext); err == nil {
		t.Fatal("plaintext upload succeeded")
	}
	ak, _ := g.creds("acme")
	bad := g.client("acme", useHC, func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(ak, "not-the-secret-key-of-acme-000000", "")
	})
	if err := put(bad, "bad.age", good); s3Code(err) != "SignatureDoesNotMatch" {
		t.Fatalf("upload with a wrong secret key: %v, want SignatureDoesNotMatch", err)
	}
	hc.CloseIdleConnections()
	s3WaitFor(t, "the connections to be closed", func() bool {
		return len(g.events(EventDisconnect)) == len(g.events(EventAuthSuccess))
	})

	opened := len(g.events(EventAuthSuccess))
	if opened == 0 {
		t.Fatal("no auth.success event")
	}
	checkMetrics(t, reg, `
		ttpgate_gateway_sessions_opened_total{protocol="s3"} `+strconv.Itoa(opened)+`
		ttpgate_gateway_sessions_opened_total{protocol="sftp"} 0
		ttpgate_gateway_sessions{protocol="s3"} 0
		ttpgate_gateway_sessions{protocol="sftp"} 0
		ttpgate_gateway_uploads_started_total{protocol="s3",tenant="acme"} 2
		ttpgate_gateway_uploads_started_total{protocol="s3",tenant="zon"} 0
		ttpgate_gateway_uploads_started_total{protocol="sftp",tenant="acme"} 0
		ttpgate_gateway_uploads_started_total{protocol="sftp",tenant="zon"} 0
		ttpgate_gateway_uploads_committed_total{protocol="s3",tenant="acme"} 1
		ttpgate_gateway_uploads_committed_total{protocol="s3",tenant="zon"} 0
		ttpgate_gateway_uploads_committed_total{protocol="sftp",tenant="acme"} 0
		ttpgate_gateway_uploads_committed_total{protocol="sftp",tenant="zon"} 0
		ttpgate_gateway_uploads_aborted_total{protocol="s3",tenant="acme"} 1
		ttpgate_gateway_uploads_aborted_total{protocol="s3",tenant="zon"} 0
		ttpgate_gateway_uploads_aborted_total{protocol="sftp",tenant="acme"} 0
		ttpgate_gateway_uploads_aborted_total{protocol="sftp",tenant="zon"} 0
		ttpgate_gateway_received_bytes_total{protocol="s3"} 10000
		ttpgate_gateway_received_bytes_total{protocol="sftp"} 0
		ttpgate_gateway_upload_refusals_total{protocol="s3",reason="not_encrypted"} 1
		ttpgate_gateway_auth_failures_total{method="sigv4",protocol="s3",reason="SignatureDoesNotMatch"} 1
		ttpgate_gateway_bans_total 0
		ttpgate_gateway_active_uploads{protocol="s3"} 0
		ttpgate_gateway_active_uploads{protocol="sftp"} 0
	`)
	if text := scrape(t, reg); strings.Contains(text, "secretname") || strings.Contains(text, "plain.age") ||
		strings.Contains(text, ak) {
		t.Errorf("a file name or access key reached the metrics:\n%s", text)
	}
}

// TestMetricsBans: failures up to the ban, the ban, and the banned address
// refused at once.
func TestMetricsBans(t *testing.T) {
	g := startGateway(t, func(l *config.Limits) { l.AuthFailuresBeforeBan = 2 })
	reg := prometheus.NewRegistry()
	if err := g.d.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	g.newKey("intruder")
	for range 3 {
		if _, _, code := g.sftpAs("acme", g.keys["intruder"], "ls /upload\n"); code == 0 {
			t.Fatal("sftp with an unlisted key succeeded")
		}
	}
	s3WaitFor(t, "the refused connection", func() bool { return len(g.events(EventConnRefused)) == 1 })
	checkMetrics(t, reg, `
		ttpgate_gateway_auth_failures_total{method="publickey",protocol="sftp",reason="key_not_authorized"} 2
		ttpgate_gateway_bans_total 1
		ttpgate_gateway_banned_addresses 1
		ttpgate_gateway_connections_refused_total{protocol="sftp",reason="banned"} 1
		ttpgate_gateway_sessions_opened_total{protocol="s3"} 0
		ttpgate_gateway_sessions_opened_total{protocol="sftp"} 0
	`)
	// The ban ends: the gauge follows the clock.
	g.d.mu.Lock()
	g.d.now = func() time.Time { return time.Now().Add(time.Hour) }
	g.d.mu.Unlock()
	checkMetrics(t, reg, `ttpgate_gateway_banned_addresses 0`)
}

// TestMetricsObserveBounded: label values come from fixed sets, whatever
// an event carries.
func TestMetricsObserveBounded(t *testing.T) {
	d := NewDropzone(nil, &config.Config{Tenants: []config.Tenant{{ID: "acme"}}}, slog.New(slog.DiscardHandler))
	reg := prometheus.NewRegistry()
	if err := d.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	d.Audit(EventAuthFailed, "user", "x", "protocol", "sftp", "method", "\x1b[31mcustom-method", "reason", "key_not_authorized")
	d.Audit(EventUploadRefused, "tenant", "nobody", "protocol", "s3", "file", "a.age", "reason", "a.age")
	d.Audit(EventUploadStarted, "tenant", "nobody", "protocol", "ftp", "file", "a.age")
	d.Audit(EventUploadCommitted, "tenant", "acme", "protocol", "s3", "size", int64(123))
	d.Audit(EventConnRefused, "protocol", "sftp", "reason", "whatever")
	checkMetrics(t, reg, `
		ttpgate_gateway_auth_failures_total{method="other",protocol="sftp",reason="key_not_authorized"} 1
		ttpgate_gateway_upload_refusals_total{protocol="s3",reason="other"} 1
		ttpgate_gateway_uploads_started_total{protocol="other",tenant="unknown"} 1
		ttpgate_gateway_uploads_started_total{protocol="s3",tenant="acme"} 0
		ttpgate_gateway_uploads_started_total{protocol="sftp",tenant="acme"} 0
		ttpgate_gateway_uploads_committed_total{protocol="s3",tenant="acme"} 1
		ttpgate_gateway_uploads_committed_total{protocol="sftp",tenant="acme"} 0
		ttpgate_gateway_received_bytes_total{protocol="s3"} 123
		ttpgate_gateway_received_bytes_total{protocol="sftp"} 0
		ttpgate_gateway_connections_refused_total{protocol="sftp",reason="other"} 1
	`)
	// A second registration is refused by the registry, not a panic.
	if err := d.RegisterMetrics(reg); err == nil {
		t.Error("registering the metrics twice with one registry succeeded")
	}
}

// testStore is a store whose Stat fails or hangs on demand.
type testStore struct {
	store.Store
	fail  atomic.Bool
	hang  atomic.Bool
	stats atomic.Int32
}

func (s *testStore) Stat(ctx context.Context, key string) (store.Info, error) {
	s.stats.Add(1)
	if s.hang.Load() {
		<-ctx.Done()
		return store.Info{}, ctx.Err()
	}
	if s.fail.Load() {
		return store.Info{}, errors.New("connection refused")
	}
	return s.Store.Stat(ctx, key)
}

// admin is an AdminServer serving on 127.0.0.1 for a test.
type admin struct {
	t    testing.TB
	a    *AdminServer
	url  string
	done chan error
	logs bytes.Buffer
}

// startAdmin serves an AdminServer for reg and st; setup, when not nil,
// changes it before it serves.
func startAdmin(t testing.TB, reg prometheus.Gatherer, st store.Store, setup func(*AdminServer)) *admin {
	t.Helper()
	ad := &admin{t: t, done: make(chan error, 1)}
	ad.a = NewAdminServer(reg, st, slog.New(slog.NewJSONHandler(&ad.logs, nil)))
	if setup != nil {
		setup(ad.a)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad.url = "http://" + ln.Addr().String()
	go func() { ad.done <- ad.a.Serve(ln) }()
	t.Cleanup(func() { ad.stop() })
	return ad
}

// storeCache sets how long the store's answer is cached, while serving.
func (ad *admin) storeCache(d time.Duration) {
	ad.a.checkMu.Lock()
	defer ad.a.checkMu.Unlock()
	ad.a.storeTTL, ad.a.checkedAt = d, time.Time{}
}

func (ad *admin) stop() {
	stopServing(ad.t, ad.done, time.Second, func(ctx context.Context) {
		if err := ad.a.Shutdown(ctx); err != nil {
			ad.t.Errorf("admin shutdown: %v", err)
		}
	})
}

// get requests path (without keep-alive: no client goroutine outlives the
// test) and returns the status and body.
func (ad *admin) get(method, path string) (int, string) {
	ad.t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	req, err := http.NewRequest(method, ad.url+path, nil)
	if err != nil {
		ad.t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		ad.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ad.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (ad *admin) want(path string, status int, body string) {
	ad.t.Helper()
	if got, b := ad.get(http.MethodGet, path); got != status || b != body {
		ad.t.Errorf("GET %s: %d %q, want %d %q", path, got, b, status, body)
	}
}

// TestHealthReadyz: /readyz follows the front-ends, the store and shutdown;
// /healthz answers all along.
func TestHealthReadyz(t *testing.T) {
	local, err := store.NewLocal(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	st := &testStore{Store: local}
	var sftpUp, s3Up atomic.Bool
	ad := startAdmin(t, prometheus.NewRegistry(), st, func(a *AdminServer) {
		a.storeTTL = 0 // check every time
		a.storeTimeout = 100 * time.Millisecond
		a.AddFront("sftp", sftpUp.Load)
		a.AddFront("s3", s3Up.Load)
	})

	ad.want("/healthz", 200, "ok\n")
	ad.want("/readyz", 503, "not ready: sftp is not accepting connections\n")
	sftpUp.Store(true)
	ad.want("/readyz", 503, "not ready: s3 is not accepting connections\n")
	s3Up.Store(true)
	ad.want("/readyz", 200, "ready\n")

	st.fail.Store(true)
	ad.want("/readyz", 503, "not ready: the store does not answer\n")
	ad.want("/healthz", 200, "ok\n")
	if !strings.Contains(ad.logs.String(), "connection refused") {
		t.Errorf("the store's error is not logged: %s", ad.logs.String())
	}
	st.fail.Store(false)
	ad.want("/readyz", 200, "ready\n")

	// A store that does not answer at all: the check gives up in time.
	st.hang.Store(true)
	start := time.Now()
	ad.want("/readyz", 503, "not ready: the store does not answer\n")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("/readyz took %s with a hanging store", d)
	}
	st.hang.Store(false)
	ad.want("/readyz", 200, "ready\n")

	// The store's answer is cached.
	ad.storeCache(time.Hour)
	ad.want("/readyz", 200, "ready\n")
	n := st.stats.Load()
	st.fail.Store(true)
	for range 5 {
		ad.want("/readyz", 200, "ready\n")
	}
	if got := st.stats.Load(); got != n {
		t.Errorf("%d store checks for 5 requests within the cache time, want 0", got-n)
	}
	st.fail.Store(false)

	// Shutdown: not ready at once; healthy until the server stops.
	ad.a.Drain()
	ad.want("/readyz", 503, "not ready: shutting down\n")
	ad.want("/healthz", 200, "ok\n")

	ad.want("/nothing", 404, "not found: /metrics, /healthz and /readyz are served here\n")
	if got, _ := ad.get(http.MethodPost, "/metrics"); got != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", got)
	}
	ad.stop()
}

// TestHealthReadyzServers: /readyz follows real front-ends: ready while they
// serve, not once one has shut down.
func TestHealthReadyzServers(t *testing.T) {
	g := startGateway(t, nil)
	s := startS3(t, nil)
	ad := startAdmin(t, prometheus.NewRegistry(), g.st, func(a *AdminServer) {
		a.AddFront("sftp", g.srv.Accepting)
		a.AddFront("s3", s.srv.Accepting)
	})
	s3WaitFor(t, "both servers to serve", func() bool { return g.srv.Accepting() && s.srv.Accepting() })
	ad.want("/readyz", 200, "ready\n")
	s.stop(time.Second)
	ad.want("/readyz", 503, "not ready: s3 is not accepting connections\n")
	g.stop(time.Second)
	ad.want("/readyz", 503, "not ready: sftp is not accepting connections\n")
}

// TestMetricsEndpoint: /metrics serves the gateway's metrics with the Go
// and process collectors, in the text format.
func TestMetricsEndpoint(t *testing.T) {
	g := startGateway(t, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := g.d.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	g.file("good.age", ageBytes(1234))
	if _, stderr, code := g.sftp("acme", "put good.age /upload/good.age\n"); code != 0 {
		t.Fatalf("sftp exited %d: %s", code, stderr)
	}
	ad := startAdmin(t, reg, g.st, nil)
	status, body := ad.get(http.MethodGet, "/metrics")
	if status != 200 {
		t.Fatalf("GET /metrics: %d", status)
	}
	for _, want := range []string{
		"# TYPE ttpgate_gateway_uploads_committed_total counter\n",
		`ttpgate_gateway_uploads_committed_total{protocol="sftp",tenant="acme"} 1` + "\n",
		`ttpgate_gateway_received_bytes_total{protocol="sftp"} 1234` + "\n",
		"# TYPE ttpgate_gateway_sessions gauge\n",
		"\ngo_goroutines ",
		"\nprocess_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
