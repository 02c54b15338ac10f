package gateway

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/internal/config"
)

// TestAuthFailuresForgotten: the failure counts of addresses whose period
// and ban have passed are dropped, so that a stream of failing addresses
// does not grow the gateway's memory without bound; a ban that lasts stays.
func TestAuthFailuresForgotten(t *testing.T) {
	cfg := &config.Config{}
	cfg.Gateway.Limits = config.Limits{AuthFailuresBeforeBan: 3, Ban: config.Duration(15 * time.Minute)}
	d := NewDropzone(nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	addr := func(batch, i int) net.Addr {
		return &net.TCPAddr{IP: net.IPv4(10, byte(batch), byte(i>>8), byte(i)), Port: 22}
	}

	for i := range 1000 {
		d.AuthFailed(addr(1, i))
	}
	for range 3 {
		d.AuthFailed(addr(1, 0))
	}
	if !d.Banned(addr(1, 0)) || len(d.failures) != 1000 {
		t.Fatalf("banned %v, %d counts; want banned, 1000 counts", d.Banned(addr(1, 0)), len(d.failures))
	}

	now = now.Add(16 * time.Minute) // every count and the ban of batch 1 have passed
	for range 3 {
		d.AuthFailed(addr(2, 0)) // banned now, before the sweep
	}
	for i := 1; i < 1000; i++ {
		d.AuthFailed(addr(2, i))
	}
	if got := len(d.failures); got != 1000 {
		t.Errorf("%d failure counts kept, want the 1000 of the current period", got)
	}
	if d.Banned(addr(1, 0)) || !d.Banned(addr(2, 0)) {
		t.Errorf("banned: old %v, current %v; want false, true", d.Banned(addr(1, 0)), d.Banned(addr(2, 0)))
	}
}
