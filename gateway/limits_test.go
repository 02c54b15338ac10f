package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ttpgate/ttpgate/internal/config"
)

// This file tests the limits of the configuration (max_file_size,
// max_sessions_per_tenant, auth_failures_before_ban and ban,
// handshake_timeout, idle_timeout) and the caps the SFTP server sets itself
// (connections per address, channels per connection).

// secBanner is what the gateway sends first on every connection it admits.
const secBanner = "SSH-2.0-ttpgate\r\n"

// secClock is a settable clock for the Dropzone.
type secClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *secClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *secClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// secUseClock makes the gateway's drop-zone tell time by c.
func (g *gw) secUseClock(c *secClock) {
	g.d.mu.Lock()
	defer g.d.mu.Unlock()
	g.d.now = c.Now
}

func secBanLimits(l *config.Limits) {
	l.AuthFailuresBeforeBan = 3
	l.Ban = config.Duration(time.Hour)
}

// secCount counts events whose key has the value.
func secCount(events []map[string]any, key, value string) int {
	n := 0
	for _, e := range events {
		if e[key] == value {
			n++
		}
	}
	return n
}

func TestLimitBan(t *testing.T) {
	g := startGateway(t, secBanLimits)
	clock := &secClock{now: time.Now()}
	g.secUseClock(clock)
	wrong := secNewSigner(t)
	fail := func(n int) {
		t.Helper()
		for range n {
			if _, err := g.secDialAs("acme", wrong); err == nil {
				t.Fatal("log in with an unknown key: succeeded")
			}
		}
	}

	fail(2)
	// Two failures: not banned yet.
	if _, err := g.secDialAs("acme", g.secSigner("acme")); err != nil {
		t.Fatalf("log in after 2 failures: %v; want success (the ban comes after 3)", err)
	}
	if n := len(g.secAudit(EventAddrBanned)); n != 0 {
		t.Errorf("auth.banned events after 2 failures: got %d, want 0", n)
	}
	fail(1)
	banned := g.secAudit(EventAddrBanned)
	if len(banned) != 1 || banned[0]["addr"] != "127.0.0.1" || banned[0]["for"] != "1h0m0s" {
		t.Fatalf("auth.banned events: got %v, want one for addr 127.0.0.1 for 1h0m0s", banned)
	}

	// Banned: the right key, any tenant, any client is refused before
	// authentication.
	for _, tenant := range []string{"acme", "zon"} {
		if _, err := g.secDialAs(tenant, g.secSigner(tenant)); err == nil {
			t.Errorf("log in as %s while banned: succeeded, want refused", tenant)
		}
	}
	if _, stderr, code := g.sftp("acme", "ls /\n"); code == 0 {
		t.Errorf("OpenSSH sftp while banned: exit 0 (%s), want failure", stderr)
	}
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	got, err := secReadAll(c)
	c.Close()
	if len(got) != 0 || err != nil {
		t.Errorf("raw connection while banned: got %q, %v; want closed at once without a banner", got, err)
	}
	refused := g.secAudit(EventConnRefused)
	if n := secCount(refused, "reason", "banned"); n != 4 || len(refused) != 4 {
		t.Errorf("conn.refused events: got %v, want 4 with reason banned", refused)
	}
	for _, e := range refused {
		if addr, _ := e["addr"].(string); !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("conn.refused event %v: want addr 127.0.0.1:PORT", e)
		}
	}
	if n := len(g.secAudit(EventAuthFailed)); n != 3 {
		t.Errorf("auth.failed events: got %d, want 3 (banned connections never reach authentication)", n)
	}

	// Still banned a second before the hour is over; free after it.
	clock.Add(time.Hour - time.Second)
	if _, err := g.secDialAs("acme", g.secSigner("acme")); err == nil {
		t.Errorf("log in 59m59s after the ban: succeeded, want refused")
	}
	clock.Add(time.Second)
	if _, err := g.secDialAs("acme", g.secSigner("acme")); err != nil {
		t.Errorf("log in 1h after the ban: %v, want success", err)
	}
	// auth.success is written once the handshake is over on the server's
	// side, which may be after the client has returned.
	secWaitFor(t, "the second auth.success event", func() bool { return len(g.secAudit(EventAuthSuccess)) >= 2 })
	if n := len(g.secAudit(EventAuthSuccess)); n != 2 {
		t.Errorf("auth.success events: got %d, want 2", n)
	}
}

// TestLimitBanStopsOpenConnections: a connection that was already
// authenticating when its address was banned cannot log in either.
func TestLimitBanStopsOpenConnections(t *testing.T) {
	g := startGateway(t, secBanLimits)
	wrong := secNewSigner(t)
	giveUp := errors.New("gave up")
	var tried []string
	cfg := secClientConfig("acme", ssh.PublicKeys(wrong))
	cfg.AuthCallback = func(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
		tried = ctx.TriedMethods
		switch len(ctx.TriedMethods) {
		case 1: // only "none": try the wrong key (failure 1)
			return nil, nil
		case 2:
			// Failures 2 and 3 from other connections ban the address
			// while this one is between attempts...
			for range 2 {
				if _, err := g.secDialAs("acme", wrong); err == nil {
					t.Error("log in with an unknown key: succeeded")
				}
			}
			if n := len(g.secAudit(EventAddrBanned)); n != 1 {
				t.Errorf("auth.banned events: got %d, want 1", n)
			}
			// ...and then it offers the right key.
			return ssh.PublicKeys(g.secSigner("acme")), nil
		}
		return nil, giveUp
	}
	if _, err := g.secDial(cfg); !errors.Is(err, giveUp) {
		t.Fatalf("log in with the right key after the address was banned: got %v, want refused", err)
	}
	if want := []string{"none", "publickey", "publickey"}; strings.Join(tried, " ") != strings.Join(want, " ") {
		t.Errorf("methods tried: got %q, want %q", tried, want)
	}
	if n := len(g.secAudit(EventAuthSuccess)); n != 0 {
		t.Errorf("auth.success events: got %d, want 0", n)
	}
	if n := len(g.secAudit(EventAddrBanned)); n != 1 {
		t.Errorf("auth.banned events: got %d, want 1 (no second ban while banned)", n)
	}
}

func TestLimitSessionsPerTenant(t *testing.T) {
	g := startGateway(t, func(l *config.Limits) { l.MaxSessionsPerTenant = 2 })
	login := func() (*ssh.Client, *secClientSession) {
		t.Helper()
		conn, err := g.secDialAs("acme", g.secSigner("acme"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := secOpenSFTP(conn)
		if err != nil {
			t.Fatal(err)
		}
		return conn, c
	}
	conn1, a1 := login()
	_, a2 := login()

	// The third connection authenticates, and the server then closes it
	// without serving it. (The test waits for the server's decision
	// rather than opening a session on it: x/crypto's client can hang
	// opening a channel on a connection the server has just closed.)
	refusedBefore, successBefore := len(g.secAudit(EventConnRefused)), len(g.secAudit(EventAuthSuccess))
	if conn3, err := g.secDialAs("acme", g.secSigner("acme")); err == nil {
		secWaitFor(t, "the server's decision on the third session", func() bool {
			return len(g.secAudit(EventConnRefused)) > refusedBefore || len(g.secAudit(EventAuthSuccess)) > successBefore
		})
		closed := make(chan error, 1)
		go func() { closed <- conn3.Wait() }()
		select {
		case <-closed:
		case <-time.After(secWaitTimeout):
			t.Errorf("third session of acme: still open after %v, want closed by the server", secWaitTimeout)
		}
	}
	refused := g.secAudit(EventConnRefused)
	if len(refused) != 1 || refused[0]["tenant"] != "acme" || refused[0]["reason"] != "too_many_sessions" {
		t.Errorf("conn.refused events: got %v, want one for tenant acme with reason too_many_sessions", refused)
	}
	if n := len(g.secAudit(EventAuthSuccess)); n != successBefore {
		t.Errorf("auth.success events: got %d, want %d (none for the refused session)", n, successBefore)
	}

	// The other tenant is not affected, nor are the two open sessions.
	z := g.secSFTP("zon")
	for name, c := range map[string]*secClientSession{"zon": z, "acme 1": a1, "acme 2": a2} {
		if _, err := c.ReadDir("/outbox"); err != nil {
			t.Errorf("%s: readdir /outbox: %v", name, err)
		}
	}

	// A connection that ends frees its place.
	conn1.Close()
	secWaitFor(t, "the end of the first session", func() bool {
		g.d.mu.Lock()
		defer g.d.mu.Unlock()
		return g.d.sessions["acme"] == 1
	})
	if _, err := g.secSFTP("acme").ReadDir("/"); err != nil {
		t.Errorf("a new session of acme after one ended: %v", err)
	}
}

func TestLimitHandshakeTimeout(t *testing.T) {
	g := startGateway(t, func(l *config.Limits) { l.HandshakeTimeout = config.Duration(500 * time.Millisecond) })
	dial := func(t *testing.T) net.Conn {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	t.Run("silent client", func(t *testing.T) {
		got, err := secReadAll(dial(t))
		if string(got) != secBanner || err != nil {
			t.Errorf("got %q, %v; want %q, then the connection closed", got, err, secBanner)
		}
	})
	t.Run("after the version exchange", func(t *testing.T) {
		c := dial(t)
		if _, err := c.Write([]byte("SSH-2.0-stalling\r\n")); err != nil {
			t.Fatal(err)
		}
		got, err := secReadAll(c) // banner and key exchange init, then closed
		if !strings.HasPrefix(string(got), secBanner) || err != nil {
			t.Errorf("got %q, %v; want %q and more, then the connection closed", got, err, secBanner)
		}
	})
	t.Run("during authentication", func(t *testing.T) {
		cfg := secClientConfig("acme")
		cfg.AuthCallback = func(*ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			// Stall until the server has given up on this connection.
			secWaitFor(t, "the server to drop the connection", func() bool {
				g.srv.mu.Lock()
				defer g.srv.mu.Unlock()
				return len(g.srv.conns) == 0
			})
			return ssh.PublicKeys(g.secSigner("acme")), nil
		}
		if _, err := g.secDial(cfg); err == nil {
			t.Errorf("log in after stalling past the handshake timeout: succeeded, want the connection closed")
		}
	})
	t.Run("authenticated session outlives it", func(t *testing.T) {
		c := g.secSFTP("acme")
		time.Sleep(1500 * time.Millisecond) // three handshake timeouts
		if _, err := c.ReadDir("/"); err != nil {
			t.Errorf("readdir 1.5s after logging in: %v", err)
		}
	})
}

func TestLimitIdleTimeout(t *testing.T) {
	g := startGateway(t, func(l *config.Limits) { l.IdleTimeout = config.Duration(700 * time.Millisecond) })
	idle := g.secSFTP("acme")
	busy := g.secSFTP("zon")

	// A session that keeps working stays open past the idle timeout.
	start := time.Now()
	for n := 0; time.Since(start) < 2100*time.Millisecond; n++ {
		if _, err := busy.Stat("/outbox"); err != nil {
			t.Fatalf("busy session, request %d after %v: %v", n, time.Since(start), err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The idle one is closed by the server.
	done := make(chan error, 1)
	go func() { done <- idle.Wait() }()
	select {
	case <-done:
	case <-time.After(secWaitTimeout):
		t.Fatalf("idle session still open %v after the idle timeout", secWaitTimeout)
	}
	if _, err := idle.Stat("/outbox"); err == nil {
		t.Errorf("request on the idle session after it was closed: succeeded")
	}
	refused := g.secAudit(EventConnRefused)
	if len(refused) != 1 || refused[0]["tenant"] != "acme" || refused[0]["reason"] != "idle_timeout" {
		t.Errorf("conn.refused events: got %v, want one for tenant acme with reason idle_timeout", refused)
	}
	if _, err := busy.Stat("/outbox"); err != nil {
		t.Errorf("busy session at the end: %v", err)
	}
}

func TestLimitMaxFileSize(t *testing.T) {
	g := startGateway(t, func(l *config.Limits) { l.MaxFileSize = 1 << 20 })
	tests := []struct {
		size int
		ok   bool
	}{
		{2 << 20, false},
		{1<<20 + 1, false},
		{1 << 20, true},
		{512 << 10, true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("f%d.age", tt.size)
		t.Run(name, func(t *testing.T) {
			g.file(name, ageBytes(tt.size))
			_, stderr, code := g.sftp("acme", "put "+name+" /upload/"+name+"\n")
			var sizes []int64
			for _, d := range g.deliveries("acme") {
				if d.FileName == name {
					sizes = append(sizes, d.Size)
				}
			}
			if tt.ok {
				if code != 0 || len(sizes) != 1 || sizes[0] != int64(tt.size) {
					t.Errorf("sftp exit %d (%s), deliveries of sizes %v; want exit 0 and one delivery of %d bytes", code, stderr, sizes, tt.size)
				}
				return
			}
			if code == 0 || !strings.Contains(stderr, "file exceeds the maximum size") || len(sizes) != 0 {
				t.Errorf("sftp exit %d, stderr %q, deliveries of sizes %v; want failure saying the file exceeds the maximum size, and no delivery", code, stderr, sizes)
			}
			var reasons []any
			for _, e := range g.secAudit(EventUploadRefused) {
				if e["file"] == name {
					reasons = append(reasons, e["reason"])
				}
			}
			if len(reasons) != 1 || reasons[0] != "too_large" {
				t.Errorf("upload.refused reasons for %s: got %v, want [too_large]", name, reasons)
			}
		})
	}
	// Nothing of the refused uploads stays: two deliveries, two objects each.
	secWaitFor(t, "no upload in progress", func() bool {
		g.d.mu.Lock()
		defer g.d.mu.Unlock()
		return len(g.d.active) == 0
	})
	if keys := g.landedKeys(); len(keys) != 4 {
		t.Errorf("landed keys: got %q, want the data and meta.json of the 2 accepted uploads", keys)
	}
	tmp, err := os.ReadDir(filepath.Join(g.dir, "store", ".tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("temporary files of the store: got %d, %v; want none", len(tmp), err)
	}
}

func TestLimitConnectionsPerAddress(t *testing.T) {
	// Connections that never authenticate hold their place until the
	// handshake timeout: a minute here.
	g := startGateway(t, func(l *config.Limits) { l.HandshakeTimeout = config.Duration(time.Minute) })
	dial := func() net.Conn {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// admitted reports whether the server admitted c: it sends its banner.
	admitted := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(secWaitTimeout))
		b := make([]byte, len(secBanner))
		n, err := io.ReadFull(c, b)
		if err != nil && n == 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
			return false // closed at once
		}
		if string(b[:n]) != secBanner {
			t.Fatalf("first bytes: got %q, %v; want %q or the connection closed", b[:n], err, secBanner)
		}
		return true
	}
	var open []net.Conn
	for i := range maxConnectionsPerAddr {
		c := dial()
		if !admitted(c) {
			t.Fatalf("connection %d of %d refused", i+1, maxConnectionsPerAddr)
		}
		open = append(open, c)
	}
	if admitted(dial()) {
		t.Fatalf("connection %d from one address: admitted, want closed at once", maxConnectionsPerAddr+1)
	}
	if _, err := g.secDialAs("acme", g.secSigner("acme")); err == nil {
		t.Errorf("log in with %d connections open from the address: succeeded, want refused", maxConnectionsPerAddr)
	}
	refused := g.secAudit(EventConnRefused)
	if n := secCount(refused, "reason", "too_many_connections_from_address"); n != 2 || len(refused) != 2 {
		t.Errorf("conn.refused events: got %v, want 2 with reason too_many_connections_from_address", refused)
	}
	// A connection that ends frees its place.
	open[0].Close()
	secWaitFor(t, "a free place", func() bool { return admitted(dial()) })
}

func TestLimitChannelsPerConnection(t *testing.T) {
	g := startGateway(t, nil)
	conn, err := g.secDialAs("acme", g.secSigner("acme"))
	if err != nil {
		t.Fatal(err)
	}
	var sessions []*ssh.Session
	for i := range maxChannelsPerConn {
		sess, err := conn.NewSession()
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		sessions = append(sessions, sess)
	}
	var oce *ssh.OpenChannelError
	if _, err := conn.NewSession(); !errors.As(err, &oce) || oce.Reason != ssh.ResourceShortage {
		t.Errorf("session %d: got %v, want rejected for resource shortage", maxChannelsPerConn+1, err)
	}
	// The cap counts channels open at once: a closed one frees its place, so
	// a long-lived client (rclone opens many sessions over time) keeps working.
	sessions[0].Close()
	secWaitFor(t, "a free channel", func() bool {
		s, err := conn.NewSession()
		if err != nil {
			return false
		}
		s.Close()
		return true
	})
}
