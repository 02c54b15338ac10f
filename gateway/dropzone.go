// Package gateway is ttpgate's front door: an SFTP server (and later an S3
// endpoint) over one drop-zone core that authenticates tenants, confines
// each to its own write-only upload folder and read-only outbox, streams
// uploads into the store as deliveries, enforces limits and writes audit
// events. It holds no decryption or pseudonymisation key.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/store"
)

// Audit event names: a closed set, never sampled.
const (
	EventAuthSuccess     = "auth.success"
	EventAuthFailed      = "auth.failed"
	EventAddrBanned      = "auth.banned"
	EventConnRefused     = "conn.refused"
	EventUploadStarted   = "upload.started"
	EventUploadCommitted = "upload.committed"
	EventUploadRefused   = "upload.refused"
	EventUploadAborted   = "upload.aborted"
	EventDisconnect      = "session.closed"
	EventDenied          = "request.denied"
)

// Dropzone is the protocol-independent core shared by SFTP and S3.
type Dropzone struct {
	Store   store.Store
	Tenants map[string]*config.Tenant
	Limits  config.Limits
	log     *slog.Logger
	now     func() time.Time
	metrics atomic.Pointer[gatewayMetrics] // set by RegisterMetrics

	mu       sync.Mutex
	sessions map[string]int // tenant -> open sessions
	failures map[string]*failureCount
	sweepAt  int            // len(failures) at which AuthFailed drops expired counts
	uploads  sync.WaitGroup // uploads in progress, for graceful shutdown
	active   map[*Upload]struct{}
	closing  bool // WaitUploads has begun: no new uploads
}

type failureCount struct {
	n           int
	first       time.Time
	bannedUntil time.Time
}

// NewDropzone returns the core for cfg's tenants and limits.
func NewDropzone(st store.Store, cfg *config.Config, log *slog.Logger) *Dropzone {
	d := &Dropzone{
		Store:    st,
		Tenants:  map[string]*config.Tenant{},
		Limits:   cfg.Gateway.Limits,
		log:      log,
		now:      time.Now,
		sessions: map[string]int{},
		failures: map[string]*failureCount{},
		active:   map[*Upload]struct{}{},
	}
	for i := range cfg.Tenants {
		d.Tenants[cfg.Tenants[i].ID] = &cfg.Tenants[i]
	}
	return d
}

// Audit writes one audit event, and counts it in the metrics once
// RegisterMetrics has been called: the metrics are taken from the audit
// events, so the two cannot disagree.
func (d *Dropzone) Audit(event string, attrs ...any) {
	d.log.LogAttrs(context.Background(), slog.LevelInfo, event, slog.Group("", append([]any{"event", event}, attrs...)...))
	if m := d.metrics.Load(); m != nil {
		m.observe(event, attrs)
	}
}

// hostOf returns the IP of a remote address (the unit of bans).
func hostOf(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// Banned reports whether the address is banned now.
func (d *Dropzone) Banned(addr net.Addr) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.failures[hostOf(addr)]
	return f != nil && d.now().Before(f.bannedUntil)
}

// AuthFailed counts a failed authentication of addr and bans the address
// after Limits.AuthFailuresBeforeBan failures within the ban period.
func (d *Dropzone) AuthFailed(addr net.Addr) (banned bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	host, now, ban := hostOf(addr), d.now(), time.Duration(d.Limits.Ban)
	f := d.failures[host]
	// A new count starts after the period, but never while a ban lasts
	// (connections open before the ban still fail).
	if f == nil || now.Sub(f.first) > ban && !now.Before(f.bannedUntil) {
		if len(d.failures) >= d.sweepAt {
			d.sweepFailures(now, ban)
		}
		f = &failureCount{first: now}
		d.failures[host] = f
	}
	f.n++
	if d.Limits.AuthFailuresBeforeBan > 0 && f.n >= d.Limits.AuthFailuresBeforeBan && !now.Before(f.bannedUntil) {
		f.bannedUntil = now.Add(ban)
		return true
	}
	return false
}

// sweepFailures drops the counts whose period and ban have both passed, so
// that addresses which failed once long ago do not pile up. It runs when the
// map has doubled since the last sweep, which keeps its cost constant per
// failure.
func (d *Dropzone) sweepFailures(now time.Time, ban time.Duration) {
	for host, f := range d.failures {
		if now.Sub(f.first) > ban && !now.Before(f.bannedUntil) {
			delete(d.failures, host)
		}
	}
	d.sweepAt = 2*len(d.failures) + 64
}

// OpenSession counts a session of tenant; it fails when the tenant has
// MaxSessionsPerTenant open already.
func (d *Dropzone) OpenSession(tenant string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if max := d.Limits.MaxSessionsPerTenant; max > 0 && d.sessions[tenant] >= max {
		return fmt.Errorf("tenant %s has %d sessions open, the maximum", tenant, max)
	}
	d.sessions[tenant]++
	return nil
}

// CloseSession ends a session counted by OpenSession.
func (d *Dropzone) CloseSession(tenant string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sessions[tenant]--
	if d.sessions[tenant] <= 0 {
		delete(d.sessions, tenant)
	}
}

// WaitUploads refuses new uploads from now on, waits until no upload is in
// progress or ctx ends, and then aborts what is still running (its data is
// discarded whole).
func (d *Dropzone) WaitUploads(ctx context.Context) {
	d.mu.Lock()
	d.closing = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.uploads.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	d.mu.Lock()
	var running []*Upload
	for u := range d.active {
		running = append(running, u)
	}
	d.mu.Unlock()
	for _, u := range running {
		u.Abort(errShutdown)
	}
	<-done
}
