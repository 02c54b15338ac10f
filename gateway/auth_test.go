package gateway

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// This file tests who gets in: public keys per tenant only, decided for keys
// the client has proven to hold; nothing but SFTP once in. Its helpers drive
// the gateway with golang.org/x/crypto/ssh and github.com/pkg/sftp, which
// send what OpenSSH would not (raw paths, refused methods and channels).

// secWaitTimeout bounds every wait for something the server does by itself.
const secWaitTimeout = 10 * time.Second

// signer reads the private key file of a tenant made by g.newKey.
func (g *gw) secSigner(name string) ssh.Signer {
	g.t.Helper()
	b, err := os.ReadFile(g.keys[name])
	if err != nil {
		g.t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		g.t.Fatal(err)
	}
	return s
}

// newSigner returns a fresh Ed25519 key no tenant has.
func secNewSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func secClientConfig(user string, auth ...ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: secWaitTimeout}
}

// dial connects to the gateway with cfg; the connection is closed at the
// end of the test.
func (g *gw) secDial(cfg *ssh.ClientConfig) (*ssh.Client, error) {
	c, err := ssh.Dial("tcp", g.addr, cfg)
	if err == nil {
		g.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// dialAs connects as user with the signers given.
func (g *gw) secDialAs(user string, signers ...ssh.Signer) (*ssh.Client, error) {
	return g.secDial(secClientConfig(user, ssh.PublicKeys(signers...)))
}

// secClientSession is an SFTP client with what the server wrote on the
// channel's stderr (where it explains refusals).
type secClientSession struct {
	*sftp.Client
	stderr *testenv.SyncBuffer
}

// openSFTP starts the sftp subsystem on conn.
func secOpenSFTP(conn *ssh.Client) (*secClientSession, error) {
	s, err := conn.NewSession()
	if err != nil {
		return nil, err
	}
	buf := &testenv.SyncBuffer{}
	e, err := s.StderrPipe()
	if err != nil {
		return nil, err
	}
	go io.Copy(buf, e) // ends when the channel closes
	w, err := s.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := s.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		return nil, err
	}
	c, err := sftp.NewClientPipe(r, w)
	if err != nil {
		return nil, err
	}
	return &secClientSession{Client: c, stderr: buf}, nil
}

// sftpClient logs in as tenant with its key and starts SFTP; it fails the
// test when that does not work.
func (g *gw) secSFTP(tenant string) *secClientSession {
	g.t.Helper()
	conn, err := g.secDialAs(tenant, g.secSigner(tenant))
	if err != nil {
		g.t.Fatalf("log in as %s: %v", tenant, err)
	}
	c, err := secOpenSFTP(conn)
	if err != nil {
		g.t.Fatalf("sftp as %s: %v", tenant, err)
	}
	g.t.Cleanup(func() { c.Close() })
	return c
}

// audit returns the audit events with the given name, decoded.
func (g *gw) secAudit(name string) []map[string]any {
	g.t.Helper()
	var out []map[string]any
	for _, line := range g.events(name) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			g.t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// waitFor waits until cond holds, or fails the test after secWaitTimeout.
func secWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(secWaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, secWaitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// secNoBan keeps the failures of a test from banning 127.0.0.1.
func secNoBan(l *config.Limits) { l.AuthFailuresBeforeBan = 1000 }

// secForgedSigner presents a public key but signs with another key: a client
// that knows a tenant's public key but not its private key.
type secForgedSigner struct {
	pub ssh.PublicKey
	ssh.Signer
}

func (f secForgedSigner) PublicKey() ssh.PublicKey { return f.pub }

func TestAuthOnlyPublicKeyOffered(t *testing.T) {
	// The server's configuration has no other method at all...
	g := startGateway(t, secNoBan)
	c := g.srv.config
	if c.PasswordCallback != nil || c.KeyboardInteractiveCallback != nil || c.GSSAPIWithMICConfig != nil || c.NoClientAuth || c.NoClientAuthCallback != nil {
		t.Errorf("server config has an authentication method besides publickey: password %v, keyboard-interactive %v, gssapi %v, none %v/%v",
			c.PasswordCallback != nil, c.KeyboardInteractiveCallback != nil, c.GSSAPIWithMICConfig != nil, c.NoClientAuth, c.NoClientAuthCallback != nil)
	}
	if c.PublicKeyCallback == nil || c.VerifiedPublicKeyCallback == nil {
		t.Errorf("publickey callbacks: PublicKeyCallback set %v, VerifiedPublicKeyCallback set %v; want both", c.PublicKeyCallback != nil, c.VerifiedPublicKeyCallback != nil)
	}

	// ...and refuses password and keyboard-interactive requests that a
	// client sends although the server did not offer them.
	methods := []struct {
		name string
		auth func(asked *bool) ssh.AuthMethod
	}{
		{"password", func(*bool) ssh.AuthMethod { return ssh.Password("secret") }},
		{"keyboard-interactive", func(asked *bool) ssh.AuthMethod {
			return ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				*asked = true
				return make([]string, len(questions)), nil
			})
		}},
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			before := len(g.secAudit(EventAuthFailed))
			var allowed, tried []string
			asked := false
			giveUp := errors.New("gave up")
			cfg := secClientConfig("acme")
			cfg.AuthCallback = func(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
				allowed, tried = ctx.AllowedMethods, ctx.TriedMethods
				if !slices.Contains(ctx.TriedMethods, m.name) {
					return m.auth(&asked), nil // sent although not offered
				}
				return nil, giveUp
			}
			_, err := g.secDial(cfg)
			if !errors.Is(err, giveUp) {
				t.Fatalf("dial with %s only: got %v, want the handshake to fail after the server refused %s", m.name, err, m.name)
			}
			if !slices.Equal(allowed, []string{"publickey"}) {
				t.Errorf("methods the server offers: got %q, want [publickey]", allowed)
			}
			if !slices.Equal(tried, []string{"none", m.name}) {
				t.Errorf("methods tried and refused: got %q, want [none %s]", tried, m.name)
			}
			if asked {
				t.Errorf("the server asked keyboard-interactive questions")
			}
			events := g.secAudit(EventAuthFailed)[before:]
			if len(events) != 1 || events[0]["method"] != m.name || events[0]["user"] != "acme" {
				t.Errorf("auth.failed events: got %v, want one with method %s and user acme", events, m.name)
			}
		})
	}

	// OpenSSH, told to use passwords, hears that only publickey exists.
	t.Run("openssh", func(t *testing.T) {
		testenv.Tool(t, "ssh", "apt-get install -y openssh-client")
		cmd := exec.Command("ssh", "-p", g.port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "BatchMode=yes", "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no",
			"-o", "ConnectTimeout=10", "-F", "/dev/null", "acme@127.0.0.1", "true")
		_, stderr, code := run(cmd)
		if code == 0 || !strings.Contains(stderr, "Permission denied (publickey).") {
			t.Errorf("ssh with passwords: exit %d, stderr %q; want failure with %q", code, stderr, "Permission denied (publickey).")
		}
	})
	if n := len(g.secAudit(EventAuthSuccess)); n != 0 {
		t.Errorf("auth.success events: got %d, want 0", n)
	}
}

func TestAuthRefusesKeysAndUsers(t *testing.T) {
	g := startGateway(t, secNoBan)
	acme, zon := g.secSigner("acme"), g.secSigner("zon")
	tests := []struct {
		name string
		user string
		key  ssh.Signer
	}{
		{"unknown key", "acme", secNewSigner(t)},
		{"acme's key as zon", "zon", acme},
		{"zon's key as acme", "acme", zon},
		{"unknown user, unknown key", "nobody", secNewSigner(t)},
		{"valid key, unknown user", "nobody", acme},
		{"valid key, empty user", "", acme},
		{"valid key, user differing in case", "ACME", acme},
		{"valid key, user with a suffix", "acme ", acme},
		{"valid key, user with a NUL", "acme\x00", acme},
		{"acme's public key without its private key", "acme", secForgedSigner{acme.PublicKey(), secNewSigner(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(g.secAudit(EventAuthFailed))
			if _, err := g.secDialAs(tt.user, tt.key); err == nil {
				t.Fatalf("log in as %q: succeeded, want refused", tt.user)
			}
			// A bad signature ends the handshake inside the ssh library; the
			// gateway audits it when the library returns, which may be after
			// the client has seen the connection close.
			secWaitFor(t, "auth.failed event", func() bool { return len(g.secAudit(EventAuthFailed)) > before })
			for _, e := range g.secAudit(EventAuthFailed)[before:] {
				addr, _ := e["addr"].(string)
				if e["user"] != sanitize(tt.user) || e["method"] != "publickey" || !strings.HasPrefix(addr, "127.0.0.1:") {
					t.Errorf("auth.failed event %v: want user %q, method publickey, addr 127.0.0.1:PORT", e, sanitize(tt.user))
				}
			}
		})
	}
	if n := len(g.secAudit(EventAuthSuccess)); n != 0 {
		t.Errorf("auth.success events: got %d, want 0", n)
	}
	// The right keys still work, and each session is its own tenant's.
	for _, tenant := range []string{"acme", "zon"} {
		g.secSFTP(tenant)
	}
	var tenants []string
	for _, e := range g.secAudit(EventAuthSuccess) {
		tenants = append(tenants, e["tenant"].(string))
	}
	if !slices.Equal(tenants, []string{"acme", "zon"}) {
		t.Errorf("auth.success tenants: got %q, want [acme zon]", tenants)
	}
}

func TestAuthFailedLogSanitizesUser(t *testing.T) {
	g := startGateway(t, secNoBan)
	tests := []struct{ user, logged string }{
		{"evil\nuser\x1b[31m\r\x7f", "evil?user?[31m??"},
		{strings.Repeat("u", 100), strings.Repeat("u", 64) + "…"},
		{"\xff\xfe", "\ufffd\ufffd"},
	}
	for _, tt := range tests {
		before := len(g.secAudit(EventAuthFailed))
		if _, err := g.secDialAs(tt.user, g.secSigner("acme")); err == nil {
			t.Fatalf("log in as %q: succeeded, want refused", tt.user)
		}
		events := g.secAudit(EventAuthFailed)[before:]
		if len(events) != 1 || events[0]["user"] != tt.logged {
			t.Errorf("user %q: auth.failed events %v, want one with user %q", tt.user, events, tt.logged)
		}
	}
	log := g.logs.String()
	for _, raw := range []string{"\x1b", `\u001b`, "\r", `\r`, "evil\n", `evil\n`, "\x7f", strings.Repeat("u", 65)} {
		if strings.Contains(log, raw) {
			t.Errorf("the log holds %q from a user name", raw)
		}
	}
}

func TestOnlySFTP(t *testing.T) {
	g := startGateway(t, nil)

	t.Run("openssh exec", func(t *testing.T) {
		testenv.Tool(t, "ssh", "apt-get install -y openssh-client")
		args := append([]string{"-p", g.port}, g.sshOpts(g.keys["acme"])...)
		stdout, stderr, code := run(exec.Command("ssh", append(args, "acme@127.0.0.1", "ls", "/")...))
		if code != 1 || stdout != "" || !strings.Contains(stderr, "ttpgate: only SFTP is available on this server") {
			t.Errorf("ssh acme@127.0.0.1 ls: exit %d, stdout %q, stderr %q; want exit 1, nothing on stdout, stderr saying only SFTP", code, stdout, stderr)
		}
	})

	newSession := func(t *testing.T) (*ssh.Session, *testenv.SyncBuffer) {
		conn, err := g.secDialAs("acme", g.secSigner("acme"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		buf := &testenv.SyncBuffer{}
		s.Stderr = buf
		return s, buf
	}
	// exec and shell are answered with a message and exit status 1, and
	// nothing runs.
	t.Run("exec", func(t *testing.T) {
		s, stderr := newSession(t)
		out, err := s.Output("cat /etc/passwd")
		var ee *ssh.ExitError
		if !errors.As(err, &ee) || ee.ExitStatus() != 1 || len(out) != 0 {
			t.Errorf("exec: got output %q, error %v; want no output and exit status 1", out, err)
		}
		if want := "ttpgate: only SFTP is available on this server\n"; stderr.String() != want {
			t.Errorf("exec: stderr %q, want %q", stderr, want)
		}
	})
	t.Run("shell", func(t *testing.T) {
		s, stderr := newSession(t)
		var out bytes.Buffer
		s.Stdout = &out
		s.Stdin = strings.NewReader("cat /etc/passwd\n")
		if err := s.Shell(); err != nil {
			t.Fatalf("shell request: %v", err)
		}
		err := s.Wait()
		var ee *ssh.ExitError
		if !errors.As(err, &ee) || ee.ExitStatus() != 1 || out.Len() != 0 {
			t.Errorf("shell: got output %q, error %v; want no output and exit status 1", out.String(), err)
		}
		if want := "ttpgate: only SFTP is available on this server\n"; stderr.String() != want {
			t.Errorf("shell: stderr %q, want %q", stderr, want)
		}
	})
	t.Run("pty, env and other subsystems", func(t *testing.T) {
		s, _ := newSession(t)
		if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err == nil {
			t.Errorf("pty-req: succeeded, want refused")
		}
		if err := s.Setenv("LD_PRELOAD", "/tmp/x.so"); err == nil {
			t.Errorf("env: succeeded, want refused")
		}
		for _, sub := range []string{"shell", "sftp ", "SFTP", "sftp\x00", "netconf"} {
			if err := s.RequestSubsystem(sub); err == nil {
				t.Errorf("subsystem %q: succeeded, want refused", sub)
			}
		}
		// The channel still serves SFTP after the refusals.
		w, _ := s.StdinPipe()
		r, _ := s.StdoutPipe()
		if err := s.RequestSubsystem("sftp"); err != nil {
			t.Fatalf("subsystem sftp after refusals: %v", err)
		}
		c, err := sftp.NewClientPipe(r, w)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if wd, err := c.Getwd(); err != nil || wd != "/" {
			t.Errorf("getwd: got %q, %v; want /", wd, err)
		}
	})

	t.Run("forwarding", func(t *testing.T) {
		conn, err := g.secDialAs("acme", g.secSigner("acme"))
		if err != nil {
			t.Fatal(err)
		}
		// The gateway's own port is as good a target as any: it must not
		// be reached through the tunnel.
		var oce *ssh.OpenChannelError
		if _, err := conn.Dial("tcp", g.addr); !errors.As(err, &oce) || oce.Reason != ssh.UnknownChannelType {
			t.Errorf("direct-tcpip: got %v, want the channel rejected with reason unknown channel type", err)
		}
		host, portStr, _ := net.SplitHostPort(g.addr)
		port, _ := strconv.ParseUint(portStr, 10, 16)
		payload := ssh.Marshal(struct {
			Host     string
			Port     uint32
			OrigHost string
			OrigPort uint32
		}{host, uint32(port), "127.0.0.1", 4242})
		for _, typ := range []string{"direct-tcpip", "forwarded-tcpip", "x11", "auth-agent@openssh.com", "direct-streamlocal@openssh.com", "tun@openssh.com"} {
			ch, _, err := conn.OpenChannel(typ, payload)
			if err == nil {
				ch.Close()
			}
			if !errors.As(err, &oce) || oce.Reason != ssh.UnknownChannelType {
				t.Errorf("open channel %s: got %v, want rejected with reason unknown channel type", typ, err)
			}
		}
		if ln, err := conn.Listen("tcp", "127.0.0.1:0"); err == nil {
			ln.Close()
			t.Errorf("tcpip-forward: listening, want refused")
		}
		for _, req := range []string{"tcpip-forward", "streamlocal-forward@openssh.com", "no-more-sessions@openssh.com"} {
			ok, _, err := conn.SendRequest(req, true, ssh.Marshal(struct {
				Addr string
				Port uint32
			}{"127.0.0.1", 0}))
			if err != nil || ok {
				t.Errorf("global request %s: got ok %v, err %v; want refused", req, ok, err)
			}
		}
		// Refusals do not end the connection: SFTP still works on it.
		c, err := secOpenSFTP(conn)
		if err != nil {
			t.Fatalf("sftp after refused forwarding: %v", err)
		}
		defer c.Close()
		if _, err := c.ReadDir("/"); err != nil {
			t.Errorf("readdir / after refused forwarding: %v", err)
		}
	})
}

// readAll reads what a connection sends until it is closed, bounded by
// secWaitTimeout.
func secReadAll(c net.Conn) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(secWaitTimeout))
	return io.ReadAll(c)
}
