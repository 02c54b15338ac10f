package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// Modern algorithms only: ssh-audit's verdict on the real `ttpgate serve`
// (scripts/ssh-audit.sh, which CI runs through this test), and what the
// server agrees to with a Go client restricted to one algorithm at a time.

func TestSSHAudit(t *testing.T) {
	testenv.Tool(t, "ssh-audit", "apt-get install -y ssh-audit")
	root := testenv.RepoRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // includes building ttpgate
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "ssh-audit.sh"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ssh-audit.sh: OK") {
		t.Errorf("scripts/ssh-audit.sh: %v, want exit 0 and OK; output:\n%s", err, out)
	}
}

func TestSSHAlgorithmsExplicit(t *testing.T) {
	g := startGateway(t, nil)
	c := g.srv.config
	lists := []struct {
		name      string
		got, want []string
	}{
		{"key exchanges", c.KeyExchanges, KeyExchanges},
		{"ciphers", c.Ciphers, Ciphers},
		{"MACs", c.MACs, MACs},
		{"client key algorithms", c.PublicKeyAuthAlgorithms, ClientKeyAlgorithms},
	}
	for _, l := range lists {
		if len(l.want) == 0 || !slices.Equal(l.got, l.want) {
			t.Errorf("%s: server configured with %q, want the explicit list %q", l.name, l.got, l.want)
		}
	}
}

// secTryAlgorithms logs in to g as acme with a client restricted by
// restrict, and reports the error.
func secTryAlgorithms(g *gw, restrict func(*ssh.ClientConfig)) error {
	cfg := secClientConfig("acme", ssh.PublicKeys(g.secSigner("acme")))
	restrict(cfg)
	conn, err := ssh.Dial("tcp", g.addr, cfg)
	if err == nil {
		conn.Close()
	}
	return err
}

func TestSSHAlgorithms(t *testing.T) {
	g := startGateway(t, nil)
	tests := []struct {
		name     string
		restrict func(*ssh.ClientConfig)
		ok       bool
	}{
		{"kex " + ssh.KeyExchangeMLKEM768X25519, func(c *ssh.ClientConfig) { c.KeyExchanges = []string{ssh.KeyExchangeMLKEM768X25519} }, true},
		{"kex " + ssh.KeyExchangeCurve25519, func(c *ssh.ClientConfig) { c.KeyExchanges = []string{ssh.KeyExchangeCurve25519} }, true},
		{"kex curve25519-sha256@libssh.org", func(c *ssh.ClientConfig) { c.KeyExchanges = []string{"curve25519-sha256@libssh.org"} }, true},
		{"kex " + ssh.InsecureKeyExchangeDH1SHA1, func(c *ssh.ClientConfig) { c.KeyExchanges = []string{ssh.InsecureKeyExchangeDH1SHA1} }, false},
		{"kex " + ssh.InsecureKeyExchangeDH14SHA1, func(c *ssh.ClientConfig) { c.KeyExchanges = []string{ssh.InsecureKeyExchangeDH14SHA1} }, false},
		{"kex " + ssh.KeyExchangeDH14SHA256, func(c *ssh.ClientConfig) { c.KeyExchanges = []string{ssh.KeyExchangeDH14SHA256} }, false},
		{"kex " + ssh.KeyExchangeECDHP256, func(c *ssh.ClientConfig) { c.KeyExchanges = []string{ssh.KeyExchangeECDHP256} }, false},
		{"cipher " + ssh.CipherChaCha20Poly1305, func(c *ssh.ClientConfig) { c.Ciphers = []string{ssh.CipherChaCha20Poly1305} }, true},
		{"cipher " + ssh.CipherAES256GCM, func(c *ssh.ClientConfig) { c.Ciphers = []string{ssh.CipherAES256GCM} }, true},
		{"cipher " + ssh.CipherAES128GCM, func(c *ssh.ClientConfig) { c.Ciphers = []string{ssh.CipherAES128GCM} }, true},
		{"cipher " + ssh.InsecureCipherAES128CBC, func(c *ssh.ClientConfig) { c.Ciphers = []string{ssh.InsecureCipherAES128CBC} }, false},
		{"cipher " + ssh.InsecureCipherTripleDESCBC, func(c *ssh.ClientConfig) { c.Ciphers = []string{ssh.InsecureCipherTripleDESCBC} }, false},
		{"cipher " + ssh.CipherAES128CTR, func(c *ssh.ClientConfig) { c.Ciphers = []string{ssh.CipherAES128CTR} }, false},
		{"cipher " + ssh.CipherAES256CTR + " with " + ssh.HMACSHA256ETM, func(c *ssh.ClientConfig) {
			c.Ciphers, c.MACs = []string{ssh.CipherAES256CTR}, []string{ssh.HMACSHA256ETM}
		}, false},
		{"host key ssh-ed25519", func(c *ssh.ClientConfig) { c.HostKeyAlgorithms = []string{ssh.KeyAlgoED25519} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := secTryAlgorithms(g, tt.restrict)
			if (err == nil) != tt.ok {
				t.Errorf("log in: got %v, want success %v", err, tt.ok)
			}
		})
	}
}

// TestSSHRSAKeys: an RSA host key is offered for SHA-2 signatures only, and
// a tenant's RSA key is accepted only with SHA-2 signatures.
func TestSSHRSAKeys(t *testing.T) {
	testKey := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048) // the size is not under test
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	hostKey, err := ssh.NewSignerFromKey(testKey())
	if err != nil {
		t.Fatal(err)
	}
	tenantKey, err := ssh.NewSignerFromKey(testKey())
	if err != nil {
		t.Fatal(err)
	}
	// A server of its own: the harness's has an Ed25519 host key.
	st, err := store.NewLocal(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Tenants: []config.Tenant{{ID: "rsa", Datasets: []string{"rom"}, Organisations: []string{"94012345"},
		SSHKeys: []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(tenantKey.PublicKey())))}}}}
	cfg.Gateway.Limits = config.Limits{AuthFailuresBeforeBan: 1000, Ban: config.Duration(time.Minute)}
	srv := NewSFTPServer(NewDropzone(st, cfg, slog.New(slog.NewJSONHandler(&testenv.SyncBuffer{}, nil))), []ssh.Signer{hostKey})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	login := func(hostAlgos []string, signer ssh.Signer) error {
		cfg := secClientConfig("rsa", ssh.PublicKeys(signer))
		cfg.HostKeyAlgorithms = hostAlgos
		conn, err := ssh.Dial("tcp", ln.Addr().String(), cfg)
		if err == nil {
			conn.Close()
		}
		return err
	}
	only := func(algo string) ssh.Signer {
		s, err := ssh.NewSignerWithAlgorithms(tenantKey.(ssh.AlgorithmSigner), []string{algo})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name      string
		hostAlgos []string
		signer    ssh.Signer
		ok        bool
	}{
		{"host key rsa-sha2-512", []string{ssh.KeyAlgoRSASHA512}, tenantKey, true},
		{"host key rsa-sha2-256", []string{ssh.KeyAlgoRSASHA256}, tenantKey, true},
		{"host key ssh-rsa (SHA-1)", []string{ssh.KeyAlgoRSA}, tenantKey, false},
		{"client signature rsa-sha2-512", nil, only(ssh.KeyAlgoRSASHA512), true},
		{"client signature rsa-sha2-256", nil, only(ssh.KeyAlgoRSASHA256), true},
		{"client signature ssh-rsa (SHA-1)", nil, only(ssh.KeyAlgoRSA), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := login(tt.hostAlgos, tt.signer); (err == nil) != tt.ok {
				t.Errorf("log in: got %v, want success %v", err, tt.ok)
			}
		})
	}
}
