package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/gateway"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
)

// demoUploader uploads files to the demo's gateway as a tenant would: with
// the tenant's credentials from the development setup, and checking the
// gateway's identity against the keys the setup generated.
type demoUploader struct {
	st   store.Store // the gateway's store, to find the committed delivery
	cfg  *config.Config
	keys string // the setup's key folder
}

// upload runs send for the file at path and returns the delivery it made.
// The gateway commits a delivery before it answers the upload's last
// request (the SFTP close, the S3 PutObject), so the delivery must exist
// once send returns; it must also hold exactly the bytes sent.
func (u demoUploader) upload(ctx context.Context, tenant, channel, path string, send func(context.Context, string, string) error) (delivery.Meta, error) {
	before, err := delivery.List(ctx, u.st)
	if err != nil {
		return delivery.Meta{}, err
	}
	seen := map[string]bool{}
	for _, m := range before {
		seen[m.ID] = true
	}
	if err := send(ctx, tenant, path); err != nil {
		return delivery.Meta{}, err
	}
	size, sum, err := fileSHA256(path)
	if err != nil {
		return delivery.Meta{}, err
	}
	after, err := delivery.List(ctx, u.st)
	if err != nil {
		return delivery.Meta{}, err
	}
	var found []delivery.Meta
	for _, m := range after {
		if !seen[m.ID] {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return delivery.Meta{}, fmt.Errorf("the upload returned with %d new deliveries committed, want 1", len(found))
	}
	m := found[0]
	if m.Tenant != tenant || m.Channel != channel || m.FileName != filepath.Base(path) || m.Size != size || m.SHA256 != sum {
		return delivery.Meta{}, fmt.Errorf("delivery %s is %s/%s/%s, %d bytes, sha256 %s; want %s/%s/%s, %d bytes, sha256 %s",
			m.ID, m.Tenant, m.Channel, m.FileName, m.Size, m.SHA256, tenant, channel, filepath.Base(path), size, sum)
	}
	return m, nil
}

func fileSHA256(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// sftp uploads path to /upload/ over SFTP as tenant, authenticated with the
// tenant's key the development setup made (keys/tenant-<id>), and accepts
// only the gateway's own host key (keys/ssh_host_ed25519_key.pub).
func (u demoUploader) sftp(ctx context.Context, addr, tenant, path string) error {
	b, err := crypto.ReadKeyFile(filepath.Join(u.keys, "tenant-"+tenant))
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return fmt.Errorf("SSH key of tenant %s: %w", tenant, err)
	}
	hostPath := filepath.Join(u.keys, "ssh_host_ed25519_key.pub")
	b, err = os.ReadFile(hostPath)
	if err != nil {
		return err
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return fmt.Errorf("host key %s: %w", hostPath, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(10 * time.Second)) // the handshake
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:              tenant,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   ssh.FixedHostKey(hostKey),
		HostKeyAlgorithms: []string{hostKey.Type()},
	})
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sc, err := sftp.NewClient(client)
	if err != nil {
		return err
	}
	defer sc.Close()
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := sc.OpenFile("/upload/"+filepath.Base(path), os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	if _, err := dst.ReadFrom(src); err != nil {
		dst.Close()
		return err
	}
	// The gateway commits the delivery before it answers the close.
	return dst.Close()
}

// s3 uploads path to upload/ in the tenant's bucket over S3, signed with
// the tenant's credentials as `ttpgate tenants s3-credentials` derives
// them, trusting only the gateway's certificate (keys/tls.crt).
func (u demoUploader) s3(ctx context.Context, addr, tenant, path string) error {
	t, ok := u.cfg.Tenant(tenant)
	if !ok || t.S3AccessKey == "" {
		return fmt.Errorf("tenant %s has no s3_access_key", tenant)
	}
	s3cfg := u.cfg.Gateway.S3
	secret, err := gateway.ReadS3CredentialSecret(s3cfg.CredentialSecret)
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(s3cfg.TLSCert)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", s3cfg.TLSCert)
	}
	tr, err := minio.DefaultTransport(true)
	if err != nil {
		return err
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	defer tr.CloseIdleConnections()
	mc, err := minio.New(addr, &minio.Options{
		Creds:        credentials.NewStaticV4(t.S3AccessKey, gateway.DeriveS3Secret(secret, t.S3AccessKey), ""),
		Secure:       true,
		Region:       s3cfg.Region,
		Transport:    tr,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1, // on loopback a failure is no passing trouble: say it at once
	})
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// The bucket is the tenant id. The gateway commits the delivery before
	// it answers the PutObject.
	info, err := mc.PutObject(ctx, tenant, "upload/"+filepath.Base(path), f, fi.Size(),
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	if info.Size != fi.Size() {
		return errors.New("the gateway acknowledged a different size")
	}
	return nil
}
