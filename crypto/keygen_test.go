package crypto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"
)

var keygenFiles = map[string]os.FileMode{
	AgeIdentityFile:      0o600,
	AgeRecipientFile:     0o644,
	OpenPGPKeyFile:       0o600,
	OpenPGPPublicKeyFile: 0o644,
	PseudonymKeyFile:     0o600,
	SSHHostKeyFile:       0o600,
	SSHHostPubKeyFile:    0o644,
	TLSKeyFile:           0o600,
	TLSCertFile:          0o644,
	S3SecretFile:         0o600,
}

// snapshot returns every file in dir with its mode and contents.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = fi.Mode().String() + " " + fi.ModTime().String() + "\n" + string(b)
	}
	return m
}

func generate(t testing.TB, dir string) []string {
	t.Helper()
	created, err := GenerateKeys(dir)
	if err != nil {
		t.Fatalf("GenerateKeys: %v", err)
	}
	return created
}

func names(paths []string) []string {
	var n []string
	for _, p := range paths {
		n = append(n, filepath.Base(p))
	}
	slices.Sort(n)
	return n
}

func TestGenerateKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	created := generate(t, dir)

	var want []string
	for name := range keygenFiles {
		want = append(want, name)
	}
	slices.Sort(want)
	if got := names(created); !slices.Equal(got, want) {
		t.Errorf("created %v, want %v", got, want)
	}
	for _, p := range created {
		if filepath.Dir(p) != dir {
			t.Errorf("created %s, not in %s", p, dir)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("folder: %v, %v; want mode 0700", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(keygenFiles) {
		t.Errorf("%d entries in the folder, want %d", len(entries), len(keygenFiles))
	}
	for name, perm := range keygenFiles {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != perm {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), perm)
		}
		if perm&0o077 == 0 {
			if _, err := ReadKeyFile(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("age", func(t *testing.T) {
		lines := strings.Split(read(AgeIdentityFile), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "# created: ") || !strings.HasPrefix(lines[1], "# public key: age1") ||
			!strings.HasPrefix(lines[2], "AGE-SECRET-KEY-1") || lines[3] != "" {
			t.Fatalf("%s is not in age-keygen's format", AgeIdentityFile)
		}
		if _, err := time.Parse(time.RFC3339, strings.TrimPrefix(lines[0], "# created: ")); err != nil {
			t.Errorf("created line: %v", err)
		}
		ids, err := LoadAgeIdentities(filepath.Join(dir, AgeIdentityFile))
		if err != nil {
			t.Fatal(err)
		}
		recipient := ids[0].(*age.X25519Identity).Recipient().String()
		if got := read(AgeRecipientFile); got != recipient+"\n" {
			t.Errorf("%s = %q, want %q", AgeRecipientFile, got, recipient+"\n")
		}
		if lines[1] != "# public key: "+recipient {
			t.Errorf("public key comment %q does not match", lines[1])
		}
	})
	t.Run("openpgp", func(t *testing.T) {
		sec, pub := read(OpenPGPKeyFile), read(OpenPGPPublicKeyFile)
		if !strings.HasPrefix(sec, "-----BEGIN PGP PRIVATE KEY BLOCK-----\n") || !strings.HasSuffix(sec, "-----END PGP PRIVATE KEY BLOCK-----\n") {
			t.Errorf("%s is not an armoured private key block", OpenPGPKeyFile)
		}
		if !strings.HasPrefix(pub, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n") || !strings.HasSuffix(pub, "-----END PGP PUBLIC KEY BLOCK-----\n") {
			t.Errorf("%s is not an armoured public key block", OpenPGPPublicKeyFile)
		}
		keys, err := LoadOpenPGPKeys(filepath.Join(dir, OpenPGPKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || len(keys[0].decrypters) != 1 {
			t.Fatalf("%d keys; want one, with one decryption key", len(keys))
		}
		e := keys[0].entity
		if e.PrimaryKey.Version != 4 || e.PrimaryKey.PubKeyAlgo != packet.PubKeyAlgoEdDSA {
			t.Errorf("primary key: version %d, algorithm %d; want 4, EdDSA (22)", e.PrimaryKey.Version, e.PrimaryKey.PubKeyAlgo)
		}
		if curve, _ := e.PrimaryKey.Curve(); curve != packet.Curve25519 {
			t.Errorf("primary key curve %q", curve)
		}
		sub := keys[0].decrypters[0]
		if sub.PublicKey == e.PrimaryKey || sub.PublicKey.Version != 4 || sub.PublicKey.PubKeyAlgo != packet.PubKeyAlgoECDH {
			t.Errorf("decryption key: version %d, algorithm %d; want a v4 ECDH (18) subkey", sub.PublicKey.Version, sub.PublicKey.PubKeyAlgo)
		}
		if curve, _ := sub.PublicKey.Curve(); curve != packet.Curve25519 {
			t.Errorf("subkey curve %q", curve)
		}
		if sub.PrivateKey.Encrypted {
			t.Error("the private key file is protected by a passphrase")
		}
		sig, id := e.PrimarySelfSignature()
		if id == nil || id.Name != OpenPGPUserID {
			t.Errorf("user id %v, want %q", id, OpenPGPUserID)
		}
		if !sig.SEIPDv1 || sig.SEIPDv2 || len(sig.PreferredCipherSuites) != 0 {
			t.Errorf("features: SEIPD v1 %v, v2 %v, AEAD suites %v; want MDC only (GnuPG 2.2)", sig.SEIPDv1, sig.SEIPDv2, sig.PreferredCipherSuites)
		}
		if !slices.Equal(sig.PreferredSymmetric, []uint8{uint8(packet.CipherAES256), uint8(packet.CipherAES128)}) {
			t.Errorf("preferred ciphers %v, want AES-256, AES-128", sig.PreferredSymmetric)
		}
		if !slices.Equal(sig.PreferredCompression, []uint8{uint8(packet.CompressionNone), uint8(packet.CompressionZLIB)}) {
			t.Errorf("preferred compression %v, want none, ZLIB", sig.PreferredCompression)
		}
		if sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
			t.Errorf("the key expires after %d s", *sig.KeyLifetimeSecs)
		}
		// The public file holds the same key and nothing secret.
		el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(pub))
		if err != nil {
			t.Fatal(err)
		}
		if len(el) != 1 || el[0].PrimaryKey.Fingerprint == nil || fmt.Sprintf("%X", el[0].PrimaryKey.Fingerprint) != keys[0].Fingerprint() {
			t.Fatalf("%s does not hold the key of %s", OpenPGPPublicKeyFile, OpenPGPKeyFile)
		}
		if el[0].PrivateKey != nil || len(el[0].Subkeys) != 1 || el[0].Subkeys[0].PrivateKey != nil {
			t.Errorf("%s holds secret key material", OpenPGPPublicKeyFile)
		}
	})
	t.Run("secrets", func(t *testing.T) {
		for _, name := range []string{PseudonymKeyFile, S3SecretFile} {
			s := read(name)
			if b, err := hex.DecodeString(strings.TrimSuffix(s, "\n")); err != nil || len(b) != 32 || !strings.HasSuffix(s, "\n") {
				t.Errorf("%s is not 32 bytes in hexadecimal and a line end", name)
			}
		}
		if read(PseudonymKeyFile) == read(S3SecretFile) {
			t.Error("the pseudonym key and the S3 secret are equal")
		}
		key, err := LoadPseudonymKey(filepath.Join(dir, PseudonymKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewPseudonymizer(key); err != nil {
			t.Error(err)
		}
	})
	t.Run("ssh", func(t *testing.T) {
		signer, err := ssh.ParsePrivateKey([]byte(read(SSHHostKeyFile)))
		if err != nil {
			t.Fatal(err)
		}
		if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
			t.Errorf("host key type %s", signer.PublicKey().Type())
		}
		pub, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(read(SSHHostPubKeyFile)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
			t.Error(".pub does not hold the host key's public key")
		}
		if comment != "ttpgate" || len(rest) != 0 {
			t.Errorf(".pub: comment %q, %d bytes after the line", comment, len(rest))
		}
	})
	t.Run("tls", func(t *testing.T) {
		pair, err := tls.X509KeyPair([]byte(read(TLSCertFile)), []byte(read(TLSKeyFile)))
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
			t.Errorf("TLS key is a %T, want ECDSA P-256", pair.PrivateKey)
		}
		block, _ := pem.Decode([]byte(read(TLSKeyFile)))
		if block == nil || block.Type != "PRIVATE KEY" {
			t.Error("tls.key is not a PKCS #8 PEM block")
		}
		checkCert(t, pair.Leaf)
	})
}

func checkCert(t *testing.T, c *x509.Certificate) {
	t.Helper()
	if c.Subject.CommonName != "ttpgate" {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if !slices.Equal(c.DNSNames, []string{"localhost"}) {
		t.Errorf("DNS names %v", c.DNSNames)
	}
	if len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !c.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP addresses %v", c.IPAddresses)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d != 825*24*time.Hour {
		t.Errorf("valid for %v, want 825 days", d)
	}
	if now := time.Now(); now.Before(c.NotBefore) || now.After(c.NotAfter) {
		t.Errorf("not valid now: %v … %v", c.NotBefore, c.NotAfter)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %v", c.KeyUsage)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usage %v", c.ExtKeyUsage)
	}
	if c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("IsCA %v, basic constraints valid %v", c.IsCA, c.BasicConstraintsValid)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil || !bytes.Equal(c.RawIssuer, c.RawSubject) {
		t.Errorf("not self-signed: %v", err)
	}
	// A client that trusts it can verify it for every name.
	roots := x509.NewCertPool()
	roots.AddCert(c)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := c.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
}

// A second run creates nothing and changes no byte, no mode and no time.
func TestGenerateKeysTwice(t *testing.T) {
	dir := t.TempDir()
	generate(t, dir)
	before := snapshot(t, dir)
	if created := generate(t, dir); len(created) != 0 {
		t.Errorf("second run created %v", created)
	}
	after := snapshot(t, dir)
	if len(after) != len(before) {
		t.Fatalf("%d files, then %d", len(before), len(after))
	}
	for name, b := range before {
		if after[name] != b {
			t.Errorf("%s changed", name)
		}
	}
}

// Missing files are made, existing ones kept; public files are derived from
// the private keys there are.
func TestGenerateKeysFillsGaps(t *testing.T) {
	dir := t.TempDir()
	generate(t, dir)
	removed := []string{AgeRecipientFile, OpenPGPPublicKeyFile, SSHHostPubKeyFile, TLSCertFile, S3SecretFile}
	old := snapshot(t, dir)
	for _, name := range removed {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	created := generate(t, dir)
	want := slices.Clone(removed)
	slices.Sort(want)
	if got := names(created); !slices.Equal(got, want) {
		t.Errorf("created %v, want %v", got, want)
	}
	now := snapshot(t, dir)
	for name := range keygenFiles {
		if !slices.Contains(removed, name) && now[name] != old[name] {
			t.Errorf("%s changed", name)
		}
	}
	// Derived again, the same public keys.
	for _, name := range []string{AgeRecipientFile, OpenPGPPublicKeyFile, SSHHostPubKeyFile} {
		if now[name][strings.IndexByte(now[name], '\n'):] != old[name][strings.IndexByte(old[name], '\n'):] {
			t.Errorf("%s derived again differs", name)
		}
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, TLSCertFile), filepath.Join(dir, TLSKeyFile))
	if err != nil {
		t.Fatalf("new certificate for the old key: %v", err)
	}
	checkCert(t, pair.Leaf)
}

func TestGenerateKeysRecipientFromExistingIdentity(t *testing.T) {
	dir := t.TempDir()
	id1, id2 := newIdentity(t), newIdentity(t)
	writeFile(t, dir, AgeIdentityFile, 0o600, []byte("# mine\n"+id1.String()+"\n"+id2.String()+"\n"))
	created := generate(t, dir)
	if slices.Contains(names(created), AgeIdentityFile) {
		t.Error("processor.agekey counted as created")
	}
	b, err := os.ReadFile(filepath.Join(dir, AgeRecipientFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := id1.Recipient().String() + "\n" + id2.Recipient().String() + "\n"; string(b) != want {
		t.Errorf("recipient.txt = %q, want %q", b, want)
	}
}

// A public file without its private key is not matched by a new key.
func TestGenerateKeysRefusesOrphanPublicFile(t *testing.T) {
	for _, pair := range [][2]string{
		{AgeIdentityFile, AgeRecipientFile},
		{OpenPGPKeyFile, OpenPGPPublicKeyFile},
		{SSHHostKeyFile, SSHHostPubKeyFile},
		{TLSKeyFile, TLSCertFile},
	} {
		t.Run(pair[1], func(t *testing.T) {
			dir := t.TempDir()
			generate(t, dir)
			if err := os.Remove(filepath.Join(dir, pair[0])); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			_, err := GenerateKeys(dir)
			if err == nil || !strings.Contains(err.Error(), pair[1]) {
				t.Fatalf("got %v, want an error about %s", err, pair[1])
			}
			if _, err := os.Stat(filepath.Join(dir, pair[0])); !os.IsNotExist(err) {
				t.Errorf("%s was made anyway", pair[0])
			}
			after := snapshot(t, dir)
			for name, b := range before {
				if after[name] != b {
					t.Errorf("%s changed", name)
				}
			}
		})
	}
}

// An existing folder keeps its mode; an existing key file that is not a
// regular file is kept too.
func TestGenerateKeysExistingFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, S3SecretFile), 0o700); err != nil {
		t.Fatal(err)
	}
	created := generate(t, dir)
	if slices.Contains(names(created), S3SecretFile) {
		t.Error("s3.secret (a folder) counted as created")
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o750 {
		t.Errorf("folder mode changed to %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Join(dir, S3SecretFile)); !fi.IsDir() {
		t.Error("s3.secret folder replaced")
	}
}

func TestGenerateKeysCLI(t *testing.T) {
	dir := t.TempDir()
	generate(t, dir)
	agePath := ageTool(t, "age")
	keygenPath := ageTool(t, "age-keygen")

	t.Run("age-keygen -y", func(t *testing.T) {
		out := run(t, keygenPath, "-y", filepath.Join(dir, AgeIdentityFile))
		want, _ := os.ReadFile(filepath.Join(dir, AgeRecipientFile))
		if !bytes.Equal(out, want) {
			t.Errorf("age-keygen -y = %q, recipient.txt = %q", out, want)
		}
	})
	t.Run("age -R recipient.txt", func(t *testing.T) {
		plaintext := []byte("bsn;client_id\n111222333;c-1\n")
		in := filepath.Join(t.TempDir(), "extract.csv")
		if err := os.WriteFile(in, plaintext, 0o600); err != nil {
			t.Fatal(err)
		}
		ct := run(t, agePath, "-R", filepath.Join(dir, AgeRecipientFile), in)
		ids, err := LoadAgeIdentities(filepath.Join(dir, AgeIdentityFile))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Decrypt(bytes.NewReader(ct), Keyring{Age: ids})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(r)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Errorf("decrypted %q, %v", got, err)
		}
		// And age decrypts with the identity file.
		if out := run(t, agePath, "-d", "-i", filepath.Join(dir, AgeIdentityFile), writeFile(t, t.TempDir(), "x.age", 0o600, ct)); !bytes.Equal(out, plaintext) {
			t.Errorf("age -d gave %q", out)
		}
	})
	t.Run("ssh-keygen", func(t *testing.T) {
		sshKeygen, err := exec.LookPath("ssh-keygen")
		if err != nil {
			t.Skip("ssh-keygen not installed; the Go checks in TestGenerateKeys cover the format")
		}
		out := run(t, sshKeygen, "-l", "-f", filepath.Join(dir, SSHHostPubKeyFile))
		if !strings.Contains(string(out), "ED25519") {
			t.Errorf("ssh-keygen -l: %s", out)
		}
		// The private key reads too, and gives the same public key.
		pub := run(t, sshKeygen, "-y", "-f", filepath.Join(dir, SSHHostKeyFile))
		want, _ := os.ReadFile(filepath.Join(dir, SSHHostPubKeyFile))
		if got := strings.Fields(string(pub)); len(got) < 2 || !strings.HasPrefix(string(want), got[0]+" "+got[1]) {
			t.Errorf("ssh-keygen -y = %q, .pub = %q", pub, want)
		}
	})
	t.Run("openssl", func(t *testing.T) {
		openssl, err := exec.LookPath("openssl")
		if err != nil {
			t.Skip("openssl not installed; the Go checks in TestGenerateKeys cover the certificate")
		}
		out := string(run(t, openssl, "x509", "-noout", "-text", "-in", filepath.Join(dir, TLSCertFile)))
		for _, want := range []string{"DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1", "CN = ttpgate", "TLS Web Server Authentication", "CA:FALSE", "Digital Signature"} {
			if !strings.Contains(out, want) {
				t.Errorf("openssl x509 -text lacks %q:\n%s", want, out)
			}
		}
		run(t, openssl, "pkey", "-noout", "-in", filepath.Join(dir, TLSKeyFile))
	})
	t.Run("loose mode refused", func(t *testing.T) {
		path := filepath.Join(dir, AgeIdentityFile)
		if err := os.Chmod(path, 0o640); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path, 0o600)
		if _, err := ReadKeyFile(path); err == nil || !strings.Contains(err.Error(), "0640") {
			t.Errorf("ReadKeyFile: got %v, want a refusal naming mode 0640", err)
		}
		if _, err := LoadAgeIdentities(path); err == nil || !strings.Contains(err.Error(), "0640") {
			t.Errorf("LoadAgeIdentities: got %v, want a refusal naming mode 0640", err)
		}
	})
}
