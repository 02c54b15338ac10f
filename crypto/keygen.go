package crypto

import (
	"bytes"
	stdcrypto "crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"
)

// The files GenerateKeys writes, by name in its folder.
const (
	AgeIdentityFile      = "processor.agekey"
	AgeRecipientFile     = "recipient.txt"
	OpenPGPKeyFile       = "openpgp.key"
	OpenPGPPublicKeyFile = "openpgp.pub.asc"
	PseudonymKeyFile     = "pseudonym.key"
	SSHHostKeyFile       = "ssh_host_ed25519_key"
	SSHHostPubKeyFile    = "ssh_host_ed25519_key.pub"
	TLSKeyFile           = "tls.key"
	TLSCertFile          = "tls.crt"
	S3SecretFile         = "s3.secret"
)

// OpenPGPUserID is the user id of the OpenPGP key GenerateKeys makes.
const OpenPGPUserID = "ttpgate processor"

// TLSCertValidity is how long the self-signed certificate is valid: 825
// days, the longest Apple platforms accept for a TLS server certificate.
const TLSCertValidity = 825 * 24 * time.Hour

// GenerateKeys creates in dir (made with mode 0700 if absent) every key a
// deployment needs, and returns the paths of the files it created:
//
//	processor.agekey          0600  the processor's age identity, as age-keygen writes it
//	recipient.txt             0644  its recipient (age1…), for senders
//	openpgp.key               0600  the processor's OpenPGP key, armoured, no passphrase
//	openpgp.pub.asc           0644  its public key, armoured, for senders
//	pseudonym.key             0600  32 random bytes, hexadecimal
//	ssh_host_ed25519_key      0600  the SFTP host key, OpenSSH format
//	ssh_host_ed25519_key.pub  0644  its public key, an authorized_keys line
//	tls.key                   0600  ECDSA P-256, PKCS #8 PEM
//	tls.crt                   0644  self-signed for 127.0.0.1, ::1 and localhost
//	s3.secret                 0600  32 random bytes, hexadecimal
//
// It never overwrites or changes a file that exists: that file is kept and
// not counted as created, so running it again is safe and creates only
// what is missing. A public file that is missing is derived from its
// existing private key (the recipient from processor.agekey, openpgp.pub.asc
// from openpgp.key, the .pub from the host key, a new certificate for an
// existing tls.key).
//
// The OpenPGP key is what GnuPG 2.2 (Debian 12) calls ed25519/cv25519: a
// version 4 EdDSA (Ed25519) primary key for certification and signing with
// an ECDH (Curve25519) subkey for encryption, user id "ttpgate processor",
// no expiry. GnuPG 2.2 reads neither version 6 keys nor the RFC 9580
// X25519 algorithm, hence version 4. The key advertises AES-256 and AES-128,
// SHA-256, integrity protection (MDC) and no AEAD, so GnuPG 2.2 and later
// encrypt to it with SEIPD v1; its compression preferences are
// uncompressed, then ZLIB, so gpg does not compress unless told to (age
// does not either), while compressed messages are accepted. A public file
// that exists without its private key is an error, as a new private key
// would not match what was handed out. Files are created exclusively
// (O_EXCL), so a concurrent run cannot clobber one either.
//
// On an error the files created so far stay, and are returned.
func GenerateKeys(dir string) (created []string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("generate keys: %w", err)
	}
	g := &keygen{dir: dir}
	steps := []func() error{
		g.age,
		g.openpgp,
		func() error { return g.secret(PseudonymKeyFile) },
		g.ssh,
		g.tls,
		func() error { return g.secret(S3SecretFile) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return g.created, fmt.Errorf("generate keys: %w", err)
		}
	}
	if len(g.created) > 0 {
		if err := syncDir(dir); err != nil {
			return g.created, fmt.Errorf("generate keys: %w", err)
		}
	}
	return g.created, nil
}

type keygen struct {
	dir     string
	created []string
}

func (g *keygen) path(name string) string { return filepath.Join(g.dir, name) }

// exists reports whether the file name exists (as anything).
func (g *keygen) exists(name string) (bool, error) {
	_, err := os.Lstat(g.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// pair decides what to do for a private key file and its public file:
// whether to make a new private key (none exists) and whether to write the
// public file (none exists; derived from the private key file).
func (g *keygen) pair(private, public string) (newKey, writePublic bool, err error) {
	privExists, err := g.exists(private)
	if err != nil {
		return false, false, err
	}
	pubExists, err := g.exists(public)
	if err != nil {
		return false, false, err
	}
	if pubExists && !privExists {
		return false, false, fmt.Errorf("%s exists without %s: refusing to make a new key that would not match it; restore %s or remove %s",
			g.path(public), private, private, public)
	}
	return !privExists, !pubExists, nil
}

// write creates the file name exclusively with exactly mode perm and the
// given contents. A file that exists is left alone: write returns nil and
// does not count it.
func (g *keygen) write(name string, perm os.FileMode, data []byte) error {
	path := g.path(name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// Chmod sets the mode exactly, whatever the umask.
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // created above, so removing it clobbers nothing
		return fmt.Errorf("write %s: %w", path, err)
	}
	g.created = append(g.created, path)
	return nil
}

func (g *keygen) age() error {
	newKey, writePublic, err := g.pair(AgeIdentityFile, AgeRecipientFile)
	if err != nil {
		return err
	}
	var recipients []string
	if newKey {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return err
		}
		recipient := id.Recipient().String()
		text := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().Format(time.RFC3339), recipient, id)
		if err := g.write(AgeIdentityFile, 0o600, []byte(text)); err != nil {
			return err
		}
		recipients = []string{recipient}
	}
	if !writePublic {
		return nil
	}
	if !newKey || !g.wasCreated(AgeIdentityFile) {
		// Derive from the file there is, which a concurrent run may have
		// written instead of ours.
		ids, err := LoadAgeIdentities(g.path(AgeIdentityFile))
		if err != nil {
			return err
		}
		recipients = recipients[:0]
		for _, id := range ids {
			switch id := id.(type) {
			case *age.X25519Identity:
				recipients = append(recipients, id.Recipient().String())
			case *age.HybridIdentity:
				recipients = append(recipients, id.Recipient().String())
			default:
				return fmt.Errorf("%s: an identity of type %T has no recipient to derive", g.path(AgeIdentityFile), id)
			}
		}
	}
	return g.write(AgeRecipientFile, 0o644, []byte(strings.Join(recipients, "\n")+"\n"))
}

func (g *keygen) openpgp() error {
	newKey, writePublic, err := g.pair(OpenPGPKeyFile, OpenPGPPublicKeyFile)
	if err != nil {
		return err
	}
	var entities []*openpgp.Entity
	if newKey {
		e, err := newOpenPGPEntity(time.Now())
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := armored(&buf, openpgp.PrivateKeyType, func(w io.Writer) error { return e.SerializePrivateWithoutSigning(w, nil) }); err != nil {
			return err
		}
		if err := g.write(OpenPGPKeyFile, 0o600, buf.Bytes()); err != nil {
			return err
		}
		entities = []*openpgp.Entity{e}
	}
	if !writePublic {
		return nil
	}
	if !newKey || !g.wasCreated(OpenPGPKeyFile) {
		// Derive from the file there is, which a concurrent run may have
		// written instead of ours.
		keys, err := LoadOpenPGPKeys(g.path(OpenPGPKeyFile))
		if err != nil {
			return err
		}
		entities = entities[:0]
		for _, k := range keys {
			entities = append(entities, k.entity)
		}
	}
	var buf bytes.Buffer
	err = armored(&buf, openpgp.PublicKeyType, func(w io.Writer) error {
		for _, e := range entities {
			if err := e.Serialize(w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return g.write(OpenPGPPublicKeyFile, 0o644, buf.Bytes())
}

// newOpenPGPEntity makes the processor's OpenPGP key (see GenerateKeys).
func newOpenPGPEntity(now time.Time) (*openpgp.Entity, error) {
	cfg := &packet.Config{
		Algorithm:              packet.PubKeyAlgoEdDSA,
		Curve:                  packet.Curve25519,
		DefaultHash:            stdcrypto.SHA256,
		DefaultCipher:          packet.CipherAES256,
		DefaultCompressionAlgo: packet.CompressionZLIB,
		Time:                   func() time.Time { return now },
	}
	return openpgp.NewEntity(OpenPGPUserID, "", "", cfg)
}

// armored writes an ASCII-armoured block of type blockType (with the CRC
// line, which GnuPG 2.2 expects) holding what write writes.
func armored(dst io.Writer, blockType string, write func(io.Writer) error) error {
	w, err := armor.Encode(dst, blockType, nil)
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	_, err = io.WriteString(dst, "\n")
	return err
}

func (g *keygen) wasCreated(name string) bool {
	path := g.path(name)
	for _, c := range g.created {
		if c == path {
			return true
		}
	}
	return false
}

// secret writes 32 random bytes, hexadecimal, with a line end.
func (g *keygen) secret(name string) error {
	b := make([]byte, 32)
	rand.Read(b) // never fails (Go ≥ 1.24)
	return g.write(name, 0o600, []byte(hex.EncodeToString(b)+"\n"))
}

func (g *keygen) ssh() error {
	newKey, writePublic, err := g.pair(SSHHostKeyFile, SSHHostPubKeyFile)
	if err != nil {
		return err
	}
	if newKey {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		block, err := ssh.MarshalPrivateKey(priv, "ttpgate")
		if err != nil {
			return err
		}
		if err := g.write(SSHHostKeyFile, 0o600, pem.EncodeToMemory(block)); err != nil {
			return err
		}
	}
	if !writePublic {
		return nil
	}
	data, err := ReadKeyFile(g.path(SSHHostKeyFile))
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return fmt.Errorf("%s: not an unencrypted OpenSSH private key", g.path(SSHHostKeyFile))
	}
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(signer.PublicKey())), "\n") + " ttpgate\n"
	return g.write(SSHHostPubKeyFile, 0o644, []byte(line))
}

func (g *keygen) tls() error {
	newKey, writePublic, err := g.pair(TLSKeyFile, TLSCertFile)
	if err != nil {
		return err
	}
	if newKey {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := g.write(TLSKeyFile, 0o600, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return err
		}
	}
	if !writePublic {
		return nil
	}
	key, err := g.readTLSKey()
	if err != nil {
		return err
	}
	cert, err := selfSignedCert(key, time.Now())
	if err != nil {
		return err
	}
	return g.write(TLSCertFile, 0o644, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
}

// readTLSKey reads tls.key, PKCS #8 or (made by another tool) SEC 1.
func (g *keygen) readTLSKey() (stdcrypto.Signer, error) {
	path := g.path(TLSKeyFile)
	data, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: PEM block %q, want PRIVATE KEY", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid private key", path)
	}
	signer, ok := key.(stdcrypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T cannot sign", path, key)
	}
	return signer, nil
}

// selfSignedCert returns a DER certificate for the S3 endpoint: CN
// ttpgate, names 127.0.0.1, ::1 and localhost, a server certificate that is
// not a CA, valid for TLSCertValidity from an hour before now (for clocks
// that lag).
func selfSignedCert(key stdcrypto.Signer, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	notBefore := now.Add(-time.Hour).UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ttpgate"},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(TLSCertValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
}

// syncDir makes the new directory entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
