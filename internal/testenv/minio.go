package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIOInstall says how to install the MinIO server the tests start; .ci/run
// does exactly this.
const MinIOInstall = "GOBIN=$HOME/.cache/ttpgate/bin go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c, then put that folder on PATH or set TTPGATE_MINIO"

// MinIO is a MinIO server that a test started on 127.0.0.1, with a data
// folder of its own. It is stopped when the test ends.
type MinIO struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string
	// Secure: the server speaks HTTPS with a self-signed certificate for
	// 127.0.0.1, CertFile (PEM), which RootCAs trusts.
	Secure   bool
	CertFile string
	RootCAs  *x509.CertPool

	Client *minio.Client
	log    *SyncBuffer
}

// MinIOOptions configures StartMinIO.
type MinIOOptions struct {
	TLS bool
}

var minioBuckets atomic.Int64

// MinIOBinary returns the path of the minio executable (TTPGATE_MINIO, or
// minio on PATH), or skips/fails t.
func MinIOBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TTPGATE_MINIO"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return Tool(t, "minio", MinIOInstall)
}

// StartMinIO starts a MinIO server for t and waits until it is ready.
func StartMinIO(t testing.TB, o MinIOOptions) *MinIO {
	t.Helper()
	bin := MinIOBinary(t)
	dir := t.TempDir()
	m := &MinIO{AccessKey: "ttpgate-test", SecretKey: rand.Text(), Secure: o.TLS, log: &SyncBuffer{}}
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	if o.TLS {
		m.CertFile = filepath.Join(certs, "public.crt")
		m.RootCAs = writeLoopbackCert(t, m.CertFile, filepath.Join(certs, "private.key"))
	}
	var lastErr error
	for range 3 { // a port found free may be taken before MinIO binds it
		port, console := freePort(t), freePort(t)
		m.Endpoint = "127.0.0.1:" + port
		cmd := exec.Command(bin, "server", filepath.Join(dir, "data"),
			"--address", m.Endpoint, "--console-address", "127.0.0.1:"+console, "--certs-dir", certs, "--quiet")
		cmd.Env = append(os.Environ(),
			"MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
		cmd.Stdout, cmd.Stderr = m.log, m.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start minio: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		if lastErr = m.waitReady(exited); lastErr == nil {
			t.Cleanup(stop)
			break
		}
		stop()
	}
	if lastErr != nil {
		t.Fatalf("minio did not start: %v\n%s", lastErr, m.log)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: m.RootCAs}
	var err error
	m.Client, err = minio.New(m.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), Secure: m.Secure, Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitReady polls MinIO's readiness probe until it answers 200.
func (m *MinIO) waitReady(exited <-chan struct{}) error {
	scheme := "http"
	tr := &http.Transport{}
	if m.Secure {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{RootCAs: m.RootCAs}
	}
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	defer tr.CloseIdleConnections()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("minio exited")
		default:
		}
		resp, err := c.Get(scheme + "://" + m.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after 60 s")
}

// Log returns what the server printed.
func (m *MinIO) Log() string { return m.log.String() }

// Bucket creates a bucket with a name no other test of this process uses.
func (m *MinIO) Bucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", minioBuckets.Add(1), strings.ToLower(rand.Text()[:8]))
	if err := m.Client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// writeLoopbackCert writes a self-signed certificate for 127.0.0.1 and
// localhost and its key, and returns a pool that trusts it.
func writeLoopbackCert(t testing.TB, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "minio test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
