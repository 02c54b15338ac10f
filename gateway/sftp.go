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
	"sync"
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
	perAddr  map[string]int
	sessions sync.WaitGroup
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
			if d.authorizedKey(c.User(), key) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("key not authorized")
		},
		// ...and the tenant is decided only here, for a key the client has
		// proven to hold (deciding from PublicKeyCallback was CVE-2024-45337).
		VerifiedPublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey, _ *ssh.Permissions, _ string) (*ssh.Permissions, error) {
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
			if err == nil {
				return // logged once the connection is established
			}
			d.Audit(EventAuthFailed, "user", sanitize(c.User()), "addr", c.RemoteAddr().String(), "method", method)
			if d.AuthFailed(c.RemoteAddr()) {
				d.Audit(EventAddrBanned, "addr", hostOf(c.RemoteAddr()), "for", d.Limits.Ban.String())
			}
		},
	}
	for _, k := range hostKeys {
		cfg.AddHostKey(k)
	}
	s.config = cfg
	return s
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
		s.sessions.Add(1)
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
		s.d.Audit(EventConnRefused, "addr", addr.String(), "reason", "banned")
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	host := hostOf(addr)
	switch {
	case s.closing:
		return false
	case len(s.conns) >= maxConnections:
		s.d.Audit(EventConnRefused, "addr", addr.String(), "reason", "too_many_connections")
		return false
	case s.perAddr[host] >= maxConnectionsPerAddr:
		s.d.Audit(EventConnRefused, "addr", addr.String(), "reason", "too_many_connections_from_address")
		return false
	}
	s.conns[c] = struct{}{}
	s.perAddr[host]++
	return true
}

func (s *SFTPServer) release(c net.Conn) {
	c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
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
	if err != nil {
		return // auth failures are audited by AuthLogCallback
	}
	defer conn.Close()
	raw.SetDeadline(time.Time{})
	sess := Session{ID: newSessionID(), Tenant: conn.Permissions.Extensions["tenant"], Channel: delivery.ChannelSFTP,
		RemoteAddr: raw.RemoteAddr().String(), KeyFingerprint: conn.Permissions.Extensions["fingerprint"]}
	if err := s.d.OpenSession(sess.Tenant); err != nil {
		s.d.Audit(EventConnRefused, "tenant", sess.Tenant, "addr", sess.RemoteAddr, "reason", "too_many_sessions")
		return
	}
	defer s.d.CloseSession(sess.Tenant)
	s.d.Audit(EventAuthSuccess, "tenant", sess.Tenant, "session", sess.ID, "addr", sess.RemoteAddr,
		"key_fingerprint", sess.KeyFingerprint, "method", "publickey")
	start := time.Now()
	defer func() {
		s.d.Audit(EventDisconnect, "tenant", sess.Tenant, "session", sess.ID, "addr", sess.RemoteAddr,
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
				s.d.Audit(EventConnRefused, "tenant", sess.Tenant, "session", sess.ID, "reason", "idle_timeout")
				conn.Close()
				return
			}
		}
	}()
	go ssh.DiscardRequests(reqs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	nch := 0
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		if nch++; nch > maxChannelsPerConn {
			nc.Reject(ssh.ResourceShortage, "too many channels")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveChannel(ctx, sess, &activeChannel{Channel: ch, activity: activity}, chReqs)
		}()
	}
	wg.Wait()
}

// activeChannel reports traffic to the idle watchdog.
type activeChannel struct {
	ssh.Channel
	activity chan struct{}
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
	return n, err
}

func (a *activeChannel) Write(p []byte) (int, error) {
	a.touch()
	return a.Channel.Write(p)
}

// serveChannel accepts exactly one request: the sftp subsystem. No shell,
// exec, pty, environment or forwarding.
func (s *SFTPServer) serveChannel(ctx context.Context, sess Session, ch *activeChannel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "subsystem" || string(bytes.TrimPrefix(req.Payload, []byte{0, 0, 0, 4})) != "sftp" || len(req.Payload) != 8 {
			if req.Type == "exec" || req.Type == "shell" {
				fmt.Fprintln(ch.Stderr(), "ttpgate: only SFTP is available on this server")
			}
			req.Reply(false, nil)
			if req.Type == "exec" || req.Type == "shell" {
				return
			}
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

// Shutdown stops accepting connections, lets uploads in progress finish
// until ctx ends (then discards them whole) and closes every connection.
func (s *SFTPServer) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	s.d.WaitUploads(ctx)
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.sessions.Wait()
}
