package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/delivery"
)

// Algorithms offered by the SFTP server, set explicitly: x/crypto/ssh's
// defaults still include SHA-1 key exchange and MACs. Post-quantum hybrid
// key exchange first; only AEAD ciphers; encrypt-then-MAC SHA-2 MACs (used
// by no AEAD cipher, but the protocol wants a list); Ed25519 host keys.
var (
	KeyExchanges = []string{ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org"}
	Ciphers      = []string{ssh.CipherChaCha20Poly1305, ssh.CipherAES256GCM, ssh.CipherAES128GCM}
	MACs         = []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM}
	// ClientKeyAlgorithms are the signature algorithms accepted from
	// clients' keys: no ssh-rsa (SHA-1).
	ClientKeyAlgorithms = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384,
		ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
)

// Limits the configuration does not name.
const (
	maxConnections        = 512 // all connections at once
	maxConnectionsPerAddr = 32  // from one source address
	maxChannelsPerConn    = 4
	maxAuthTries          = 6
)

// SFTPServer serves the drop-zone over SFTP.
type SFTPServer struct {
	d         *Dropzone
	config    *ssh.ServerConfig
	handshake time.Duration
	idle      time.Duration

	mu       sync.Mutex
	ln       net.Listener
	closing  bool
	conns    map[net.Conn]struct{}
	channels map[net.Conn][]*activeChannel // for Shutdown: which connections are idle
	perAddr  map[string]int
	sessions sync.WaitGroup

	// offered holds, per connection (remote address), the user for whom
	// the client offered a listed key that it has not proven yet: when the
	// handshake ends before the proof is judged (a bad signature ends it
	// inside the ssh library, which does not call AuthLogCallback), the
	// attempt is still audited and counted as a failure.
	offered sync.Map
}

// LoadHostKeys reads SSH host keys (files must be private to their owner).
func LoadHostKeys(paths ...string) ([]ssh.Signer, error) {
	var out []ssh.Signer
	for _, p := range paths {
		b, err := crypto.ReadKeyFile(p)
		if err != nil {
			return nil, err
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("host key %s: not an SSH private key", p)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no SSH host key")
	}
	return out, nil
}

// NewSFTPServer returns a server for d with the given host keys.
func NewSFTPServer(d *Dropzone, hostKeys []ssh.Signer) *SFTPServer {
	s := &SFTPServer{d: d, conns: map[net.Conn]struct{}{}, perAddr: map[string]int{},
		handshake: time.Duration(d.Limits.HandshakeTimeout), idle: time.Duration(d.Limits.IdleTimeout)}
	if s.handshake <= 0 {
		s.handshake = 30 * time.Second
	}
	if s.idle <= 0 {
		s.idle = 10 * time.Minute
	}
	cfg := &ssh.ServerConfig{
		Config:                  ssh.Config{KeyExchanges: KeyExchanges, Ciphers: Ciphers, MACs: MACs},
		MaxAuthTries:            maxAuthTries,
		ServerVersion:           "SSH-2.0-ttpgate",
		PublicKeyAuthAlgorithms: ClientKeyAlgorithms,
		// Only a key listed for the tenant is considered at all...
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if d.Banned(c.RemoteAddr()) {
				return nil, errBanned
			}
			if d.authorizedKey(c.User(), key) {
				s.offered.Store(c.RemoteAddr().String(), c.User())
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("key not authorized")
		},
		// ...and the tenant is decided only here, for a key the client has
		// proven to hold (deciding from PublicKeyCallback was CVE-2024-45337).
		// A ban also stops connections that were open before it began.
		VerifiedPublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey, _ *ssh.Permissions, _ string) (*ssh.Permissions, error) {
			if d.Banned(c.RemoteAddr()) {
				return nil, errBanned
			}
			if !d.authorizedKey(c.User(), key) {
				return nil, errors.New("key not authorized")
			}
			return &ssh.Permissions{Extensions: map[string]string{
				"tenant": c.User(), "fingerprint": ssh.FingerprintSHA256(key)}}, nil
		},
		AuthLogCallback: func(c ssh.ConnMetadata, method string, err error) {
			if method == "none" {
				return
			}
			if method == "publickey" {
				s.offered.Delete(c.RemoteAddr().String()) // judged
			}
			if err == nil {
				return // logged once the connection is established
			}
			s.authFailed(c.User(), c.RemoteAddr(), method, sftpAuthReason(method, err))
		},
	}
	for _, k := range hostKeys {
		// An RSA key would be offered for ssh-rsa (SHA-1) signatures too.
		if as, ok := k.(ssh.AlgorithmSigner); ok && k.PublicKey().Type() == ssh.KeyAlgoRSA {
			if ms, err := ssh.NewSignerWithAlgorithms(as, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}); err == nil {
				k = ms
			}
		}
		cfg.AddHostKey(k)
	}
	s.config = cfg
	return s
}

var errBanned = errors.New("address banned")

// authFailed audits a failed authentication and counts it for bans.
func (s *SFTPServer) authFailed(user string, addr net.Addr, method, reason string) {
	s.d.Audit(EventAuthFailed, "user", sanitize(user), "addr", addr.String(), "protocol", "sftp",
		"method", sanitize(method), "reason", reason)
	if s.d.AuthFailed(addr) {
		s.d.Audit(EventAddrBanned, "addr", hostOf(addr), "for", s.d.Limits.Ban.String())
	}
}

// sftpAuthReason names why an authentication attempt failed, from a fixed
// set (the method is the client's choice: only publickey is offered).
func sftpAuthReason(method string, err error) string {
	switch {
	case errors.Is(err, errBanned):
		return "banned"
	case method == "publickey":
		return "key_not_authorized"
	}
	return "method_not_allowed"
}

// sanitize bounds a client-chosen string before it is logged.
func sanitize(s string) string {
	b := []rune{}
	for _, r := range s {
		if len(b) == 64 {
			b = append(b, '…')
			break
		}
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		b = append(b, r)
	}
	return string(b)
}

func (d *Dropzone) authorizedKey(user string, key ssh.PublicKey) bool {
	t, ok := d.Tenants[user]
	if !ok {
		return false
	}
	want := key.Marshal()
	for _, line := range t.SSHKeys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err == nil && bytes.Equal(k.Marshal(), want) {
			return true
		}
	}
	return false
}

// Serve accepts connections on ln until Shutdown.
func (s *SFTPServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing { // Shutdown came first: it found no listener to close
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		if !s.admit(c) {
			c.Close()
			continue
		}
		go func() {
			defer s.sessions.Done()
			defer s.release(c)
			s.handle(c)
		}()
	}
}

// admit applies bans and connection caps before any SSH byte is read.
func (s *SFTPServer) admit(c net.Conn) bool {
	addr := c.RemoteAddr()
	if s.d.Banned(addr) {
		s.d.Audit(EventConnRefused, "addr", addr.String(), "protocol", "sftp", "reason", "banned")
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	host := hostOf(addr)
	switch {
	case s.closing:
		return false
	case len(s.conns) >= maxConnections:
		s.d.Audit(EventConnRefused, "addr", addr.String(), "protocol", "sftp", "reason", "too_many_connections")
		return false
	case s.perAddr[host] >= maxConnectionsPerAddr:
		s.d.Audit(EventConnRefused, "addr", addr.String(), "protocol", "sftp", "reason", "too_many_connections_from_address")
		return false
	}
	s.conns[c] = struct{}{}
	s.perAddr[host]++
	s.sessions.Add(1) // under s.mu: never after Shutdown began to wait
	return true
}

func (s *SFTPServer) release(c net.Conn) {
	c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	delete(s.channels, c)
	host := hostOf(c.RemoteAddr())
	if s.perAddr[host]--; s.perAddr[host] <= 0 {
		delete(s.perAddr, host)
	}
}

func newSessionID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *SFTPServer) handle(raw net.Conn) {
	raw.SetDeadline(time.Now().Add(s.handshake))
	conn, chans, reqs, err := ssh.NewServerConn(raw, s.config)
	user, unproven := s.offered.LoadAndDelete(raw.RemoteAddr().String())
	if err != nil {
		// Auth failures are audited by AuthLogCallback, except a listed
		// key offered and then not proven (a bad signature, or the client
		// gave up).
		if unproven {
			s.authFailed(user.(string), raw.RemoteAddr(), "publickey", "key_not_proven")
		}
		return
	}
	defer conn.Close()
	raw.SetDeadline(time.Time{})
	sess := Session{ID: newSessionID(), Tenant: conn.Permissions.Extensions["tenant"], Channel: delivery.ChannelSFTP,
		RemoteAddr: raw.RemoteAddr().String(), KeyFingerprint: conn.Permissions.Extensions["fingerprint"]}
	if err := s.d.OpenSession(sess.Tenant); err != nil {
		s.d.Audit(EventConnRefused, "tenant", sess.Tenant, "addr", sess.RemoteAddr, "protocol", "sftp", "reason", "too_many_sessions")
		return
	}
	defer s.d.CloseSession(sess.Tenant)
	s.d.Audit(EventAuthSuccess, "tenant", sess.Tenant, "session", sess.ID, "addr", sess.RemoteAddr, "protocol", "sftp",
		"key_fingerprint", sess.KeyFingerprint, "method", "publickey")
	start := time.Now()
	defer func() {
		s.d.Audit(EventDisconnect, "tenant", sess.Tenant, "session", sess.ID, "addr", sess.RemoteAddr, "protocol", "sftp",
			"duration_ms", time.Since(start).Milliseconds())
	}()

	// Idle timeout: a watchdog closes the connection when no channel data
	// moved for the idle period (the ssh library owns the socket reads).
	activity := make(chan struct{}, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTimer(s.idle)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-activity:
				if !t.Stop() {
					select {
					case <-t.C:
					default:
					}
				}
				t.Reset(s.idle)
			case <-t.C:
				s.d.Audit(EventConnRefused, "tenant", sess.Tenant, "session", sess.ID, "protocol", "sftp", "reason", "idle_timeout")
				conn.Close()
				return
			}
		}
	}()
	go ssh.DiscardRequests(reqs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var open atomic.Int32 // channels open at once (a long-lived client opens many over time)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		if open.Load() >= maxChannelsPerConn {
			nc.Reject(ssh.ResourceShortage, "too many channels")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		ac := &activeChannel{Channel: ch, activity: activity}
		s.mu.Lock()
		if s.channels == nil {
			s.channels = map[net.Conn][]*activeChannel{}
		}
		s.channels[raw] = append(s.channels[raw], ac)
		s.mu.Unlock()
		open.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer open.Add(-1)
			defer s.forgetChannel(raw, ac)
			s.serveChannel(ctx, sess, ac, chReqs)
		}()
	}
	wg.Wait()
}

// forgetChannel drops a finished channel from the shutdown bookkeeping.
func (s *SFTPServer) forgetChannel(raw net.Conn, ac *activeChannel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[raw] = slices.DeleteFunc(s.channels[raw], func(c *activeChannel) bool { return c == ac })
}

// activeChannel reports traffic to the idle watchdog, and counts the SFTP
// packets read and written: every SFTP request has exactly one reply, so
// when the counts match no request awaits its reply and Shutdown may close
// the connection without cutting off a reply (such as the one to the close
// of an upload just committed).
type activeChannel struct {
	ssh.Channel
	activity chan struct{}

	mu            sync.Mutex
	read, written packetCount
}

// idle reports whether every request read has been answered.
func (a *activeChannel) idle() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.read.n == a.written.n && !a.read.partial()
}

// packetCount counts SFTP packets (a uint32 length, then that many bytes)
// in a byte stream fed in pieces of any size.
type packetCount struct {
	n      int64  // whole packets
	header int    // bytes of the current length seen (0-3)
	length uint32 // the length being read
	rest   uint32 // bytes of the current packet still to come
}

func (c *packetCount) partial() bool { return c.header > 0 || c.rest > 0 }

func (c *packetCount) add(p []byte) {
	for len(p) > 0 {
		if c.rest == 0 {
			c.length = c.length<<8 | uint32(p[0])
			p = p[1:]
			if c.header++; c.header == 4 {
				c.rest, c.length, c.header = c.length, 0, 0
				if c.rest == 0 {
					c.n++
				}
			}
			continue
		}
		k := min(uint32(len(p)), c.rest)
		c.rest -= k
		p = p[k:]
		if c.rest == 0 {
			c.n++
		}
	}
}

func (a *activeChannel) touch() {
	select {
	case a.activity <- struct{}{}:
	default:
	}
}

func (a *activeChannel) Read(p []byte) (int, error) {
	n, err := a.Channel.Read(p)
	a.touch()
	a.mu.Lock()
	a.read.add(p[:n])
	a.mu.Unlock()
	return n, err
}

func (a *activeChannel) Write(p []byte) (int, error) {
	a.touch()
	n, err := a.Channel.Write(p)
	a.mu.Lock()
	a.written.add(p[:n])
	a.mu.Unlock()
	return n, err
}

// serveChannel accepts exactly one request: the sftp subsystem. No shell,
// exec, pty, environment or forwarding.
func (s *SFTPServer) serveChannel(ctx context.Context, sess Session, ch *activeChannel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type == "exec" || req.Type == "shell" {
			// Accepted only to say why nothing runs, with exit status 1:
			// OpenSSH drops what a channel wrote to stderr when the request
			// itself is refused.
			req.Reply(true, nil)
			fmt.Fprintln(ch.Stderr(), "ttpgate: only SFTP is available on this server")
			ch.SendRequest("exit-status", false, []byte{0, 0, 0, 1})
			return
		}
		if req.Type != "subsystem" || string(bytes.TrimPrefix(req.Payload, []byte{0, 0, 0, 4})) != "sftp" || len(req.Payload) != 8 {
			req.Reply(false, nil)
			continue
		}
		req.Reply(true, nil)
		go ssh.DiscardRequests(reqs)
		ss := newSFTPSession(ctx, s.d, sess, ch.Stderr())
		srv := sftp.NewRequestServer(ch, ss.handlers(), sftp.WithStartDirectory("/"))
		err := srv.Serve()
		ss.end()
		if err != nil && !errors.Is(err, io.EOF) {
			s.d.log.Debug("sftp session ended", "session", sess.ID, "err", err)
		}
		// The exit status before the channel closes (srv.Close closes it):
		// without it ssh, and so scp, report failure.
		ch.SendRequest("exit-status", false, []byte{0, 0, 0, 0})
		srv.Close()
		return
	}
}

// Accepting reports whether the server accepts connections: Serve has
// begun and Shutdown has not.
func (s *SFTPServer) Accepting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln != nil && !s.closing
}

// Shutdown stops accepting connections, lets uploads in progress finish
// until ctx ends (then discards them whole) and closes every connection:
// each as soon as no request on it awaits its reply, so that a client whose
// upload finished is told so, and all of them when ctx ends.
func (s *SFTPServer) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	s.d.WaitUploads(ctx)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	closed := map[net.Conn]bool{}
	for {
		s.mu.Lock()
		open := 0
		for c := range s.conns {
			if !closed[c] && (ctx.Err() != nil || s.connIdle(c)) {
				c.Close()
				closed[c] = true
			}
			if !closed[c] {
				open++
			}
		}
		s.mu.Unlock()
		if open == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	s.sessions.Wait()
}

// connIdle reports whether no request on c awaits its reply; s.mu is held.
func (s *SFTPServer) connIdle(c net.Conn) bool {
	for _, ac := range s.channels[c] {
		if !ac.idle() {
			return false
		}
	}
	return true
}
