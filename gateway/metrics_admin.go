package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ttpgate/ttpgate/internal/store"
)

// Admin listener limits and the store check of /readyz.
const (
	adminReadHeaderTimeout = 5 * time.Second
	adminReadTimeout       = 10 * time.Second
	adminWriteTimeout      = 30 * time.Second
	adminIdleTimeout       = 60 * time.Second
	adminMaxHeaderBytes    = 16 << 10
	adminMaxScrapes        = 4 // /metrics requests at once
	storeCheckInterval     = 5 * time.Second
	storeCheckTimeout      = 3 * time.Second
)

// storeCheckKey is what /readyz asks the store about: a key that never
// exists, so that the answer (ErrNotExist) costs one Stat (a HEAD request
// to S3) and proves the store answers and accepts the credentials.
const storeCheckKey = "multipart/readyz-probe"

// AdminServer serves the monitoring endpoints of a gateway, on a listener
// of their own (gateway.admin.listen; loopback by default):
//
//	/metrics  the registry in Prometheus text format
//	/healthz  200 while the process runs
//	/readyz   200 while every front-end accepts connections, the store
//	          answers and no shutdown has begun; else 503 with the reason,
//	          in one line of plain text
//
// A load balancer takes a gateway out of rotation by /readyz: Drain turns
// it 503 at once when shutdown begins, while /metrics and /healthz go on
// answering until Shutdown.
type AdminServer struct {
	srv   *http.Server
	store store.Store
	log   *slog.Logger

	// The store check is cached for storeTTL; tests shorten it.
	storeTTL     time.Duration
	storeTimeout time.Duration

	fronts   []adminFront
	draining atomic.Bool

	checkMu   sync.Mutex // one store check at a time
	checkedAt time.Time
	storeErr  error
}

type adminFront struct {
	name      string
	accepting func() bool
}

// NewAdminServer returns the admin server of a gateway whose metrics are in
// g and whose store is st.
func NewAdminServer(g prometheus.Gatherer, st store.Store, logger *slog.Logger) *AdminServer {
	a := &AdminServer{store: st, log: logger, storeTTL: storeCheckInterval, storeTimeout: storeCheckTimeout}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:            slogPrinter{logger},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: adminMaxScrapes,
		Timeout:             adminWriteTimeout - time.Second,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusNotFound, "not found: /metrics, /healthz and /readyz are served here")
	})
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: adminReadHeaderTimeout,
		ReadTimeout:       adminReadTimeout,
		WriteTimeout:      adminWriteTimeout,
		IdleTimeout:       adminIdleTimeout,
		MaxHeaderBytes:    adminMaxHeaderBytes,
		ErrorLog:          log.New(slogWriter{logger}, "", 0),
	}
	return a
}

// AddFront makes /readyz wait for a front-end (name is "sftp" or "s3"):
// ready only while accepting reports true. Call it before Serve.
func (a *AdminServer) AddFront(name string, accepting func() bool) {
	a.fronts = append(a.fronts, adminFront{name, accepting})
}

// Handler returns the server's HTTP handler, for tests.
func (a *AdminServer) Handler() http.Handler { return a.srv.Handler }

// Drain makes /readyz answer 503 from now on: shutdown has begun.
func (a *AdminServer) Drain() { a.draining.Store(true) }

// Serve answers requests on ln until Shutdown; it then returns nil.
func (a *AdminServer) Serve(ln net.Listener) error {
	err := a.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown drains /readyz and stops the server, letting requests in
// progress finish until ctx ends.
func (a *AdminServer) Shutdown(ctx context.Context) error {
	a.Drain()
	return a.srv.Shutdown(ctx)
}

func (a *AdminServer) readyz(w http.ResponseWriter, r *http.Request) {
	if reason := a.notReady(r.Context()); reason != "" {
		plain(w, http.StatusServiceUnavailable, "not ready: "+reason)
		return
	}
	plain(w, http.StatusOK, "ready")
}

// notReady returns why the gateway is not ready, or "" when it is.
func (a *AdminServer) notReady(ctx context.Context) string {
	if a.draining.Load() {
		return "shutting down"
	}
	for _, f := range a.fronts {
		if !f.accepting() {
			return f.name + " is not accepting connections"
		}
	}
	if err := a.checkStore(ctx); err != nil {
		return "the store does not answer"
	}
	return ""
}

// checkStore asks the store whether it answers, at most once per storeTTL;
// requests in between get the cached answer.
func (a *AdminServer) checkStore(ctx context.Context) error {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	if !a.checkedAt.IsZero() && time.Since(a.checkedAt) < a.storeTTL {
		return a.storeErr
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.storeTimeout)
	defer cancel()
	_, err := a.store.Stat(ctx, storeCheckKey)
	if errors.Is(err, store.ErrNotExist) {
		err = nil
	}
	if err != nil && a.storeErr == nil {
		a.log.Warn("readyz: the store does not answer", "err", err)
	}
	a.checkedAt, a.storeErr = time.Now(), err
	return err
}

// plain answers one line of plain text.
func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// slogPrinter passes promhttp's error messages to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Error("metrics", "err", fmt.Sprint(v...))
}
