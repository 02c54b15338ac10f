package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// gw is a running gateway on 127.0.0.1 with a store, tenants with their
// own SSH keys, and its audit log captured.
type gw struct {
	t    testing.TB
	dir  string
	st   store.Store
	d    *Dropzone
	srv  *SFTPServer
	addr string
	port string
	keys map[string]string // tenant -> private key file
	logs *testenv.SyncBuffer
	done chan error
}

// startGateway starts a gateway for tenants "acme" and "zon" (and any
// extra), with limits changed by limits when not nil.
func startGateway(t testing.TB, limits func(*config.Limits)) *gw {
	t.Helper()
	dir := t.TempDir()
	st, err := store.NewLocal(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	return startGatewayOn(t, dir, st, limits)
}

// startGatewayOn is startGateway on the store st, with its files (keys,
// files to upload) in dir.
func startGatewayOn(t testing.TB, dir string, st store.Store, limits func(*config.Limits)) *gw {
	t.Helper()
	testenv.Tool(t, "sftp", "apt-get install -y openssh-client")
	g := &gw{t: t, dir: dir, st: st, keys: map[string]string{}, logs: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	cfg := &config.Config{}
	for _, id := range []string{"acme", "zon"} {
		pub := g.newKey(id)
		cfg.Tenants = append(cfg.Tenants, config.Tenant{ID: id, Datasets: []string{"rom"}, Organisations: []string{"94012345"}, SSHKeys: []string{pub}})
	}
	cfg.Gateway.Limits = config.Limits{MaxFileSize: 1 << 30, MaxSessionsPerTenant: 64, AuthFailuresBeforeBan: 10,
		Ban: config.Duration(15 * time.Minute), HandshakeTimeout: config.Duration(10 * time.Second), IdleTimeout: config.Duration(time.Minute)}
	if limits != nil {
		limits(&cfg.Gateway.Limits)
	}
	g.d = NewDropzone(st, cfg, slog.New(slog.NewJSONHandler(g.logs, nil)))
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(hk)
	if err != nil {
		t.Fatal(err)
	}
	g.srv = NewSFTPServer(g.d, []ssh.Signer{signer})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	_, g.port, _ = net.SplitHostPort(g.addr)
	go func() { g.done <- g.srv.Serve(ln) }()
	t.Cleanup(func() { g.stop(time.Second) })
	return g
}

// stop shuts the gateway down with the given grace period.
func (g *gw) stop(grace time.Duration) {
	stopServing(g.t, g.done, grace, g.srv.Shutdown)
}

// stopServing shuts a test server down once: shutdown is its Shutdown, done
// receives what its Serve returned (and is closed once it has).
func stopServing(t testing.TB, done chan error, grace time.Duration, shutdown func(context.Context)) {
	select {
	case <-done:
		return // stopped already
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	shutdown(ctx)
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	close(done)
}

// newKey writes an Ed25519 key pair for name and returns the public key line.
func (g *gw) newKey(name string) string {
	g.t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		g.t.Fatal(err)
	}
	path := filepath.Join(g.dir, "key-"+name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		g.t.Fatal(err)
	}
	g.keys[name] = path
	sp, _ := ssh.NewPublicKey(pub)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

// sshOpts are the OpenSSH options every client run uses.
func (g *gw) sshOpts(key string) []string {
	return []string{"-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10"}
}

// sftp runs the OpenSSH sftp client in batch mode as tenant (with the
// tenant's key) and returns stdout, stderr and the exit code.
func (g *gw) sftp(tenant, batch string) (string, string, int) {
	return g.sftpAs(tenant, g.keys[tenant], batch)
}

func (g *gw) sftpAs(user, key, batch string) (string, string, int) {
	g.t.Helper()
	args := append([]string{"-b", "-", "-P", g.port}, g.sshOpts(key)...)
	cmd := exec.Command("sftp", append(args, user+"@127.0.0.1")...)
	cmd.Dir = g.dir
	cmd.Stdin = strings.NewReader(batch)
	return run(cmd)
}

// scp copies local to remote path as tenant with OpenSSH scp (SFTP mode).
func (g *gw) scp(tenant, local, remote string) (string, string, int) {
	g.t.Helper()
	args := append([]string{"-P", g.port}, g.sshOpts(g.keys[tenant])...)
	cmd := exec.Command("scp", append(args, local, tenant+"@127.0.0.1:"+remote)...)
	cmd.Dir = g.dir
	return run(cmd)
}

func run(cmd *exec.Cmd) (string, string, int) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

// file writes data to a file in the test folder and returns its path.
func (g *gw) file(name string, data []byte) string {
	g.t.Helper()
	p := filepath.Join(g.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		g.t.Fatal(err)
	}
	return p
}

// deliveries returns the committed deliveries of tenant.
func (g *gw) deliveries(tenant string) []delivery.Meta { return tenantDeliveries(g.t, g.st, tenant) }

// tenantDeliveries returns the committed deliveries of tenant in st.
func tenantDeliveries(t testing.TB, st store.Store, tenant string) []delivery.Meta {
	t.Helper()
	all, err := delivery.List(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var out []delivery.Meta
	for _, m := range all {
		if m.Tenant == tenant {
			out = append(out, m)
		}
	}
	return out
}

// landedKeys lists every object under landed/ (data without meta.json
// included): what a broken transfer must not leave behind.
func (g *gw) landedKeys() []string { return storeKeys(g.t, g.st, "landed/") }

// storeKeys lists the keys in st under prefix.
func storeKeys(t testing.TB, st store.Store, prefix string) []string {
	t.Helper()
	var out []string
	for info, err := range st.List(context.Background(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

// events returns the audit events with the given name.
func (g *gw) events(name string) []string { return auditEvents(g.logs, name) }

// auditEvents returns the lines of an audit log with the given event.
func auditEvents(logs *testenv.SyncBuffer, name string) []string {
	var out []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, fmt.Sprintf(`"event":%q`, name)) {
			out = append(out, line)
		}
	}
	return out
}

// ageBytes returns n bytes that start like an age file (the gateway checks
// only the header; decryption is the processor's business).
func ageBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	copy(b, "age-encryption.org/v1\n-> X25519 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU\n")
	return b
}
