package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"flag"
	"strings"

	"errors"
	"fmt"
	"golang.org/x/crypto/ssh"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/processor"
	"github.com/ttpgate/ttpgate/schemas"
)

// devDir is where serve and process keep the development setup.
const devDir = "ttpgate-data"

// devConfig is the configuration of a development setup; its paths are
// relative to the file.
const devConfig = `# Development setup created by ttpgate. Loopback only; keys in keys/.
store:
  type: local
  path: store
gateway:
  sftp: {listen: "127.0.0.1:2222", host_keys: [keys/ssh_host_ed25519_key]}
  s3:   {listen: "127.0.0.1:8443", tls_cert: keys/tls.crt, tls_key: keys/tls.key,
         region: eu-west-1, credential_secret: keys/s3.secret}
  admin: {listen: "127.0.0.1:9464"}
processor:
  age_identities: [keys/processor.agekey]
  openpgp_keys: [keys/openpgp.key]
  pseudonym_key: keys/pseudonym.key
  min_cell: 10
tenants:
  - id: vendor-acme
    name: ACME ROM software (example)
    datasets: [rom]
    organisations: ["94012345", "94054321"]
    ssh_keys: ["%s"]
    s3_access_key: TTPACME0001
  - id: praktijk-zon
    name: Verloskundigenpraktijk De Zon (example)
    datasets: [lvr1]
    organisations: ["03012345"]
    vsvs: ["VSV-UTR-01"]
    s3_access_key: TTPZON00001
`

// ensureDevSetup creates dir with keys, a configuration and a store folder
// when it does not exist yet, and returns the path of its configuration.
func ensureDevSetup(dir string, stderr io.Writer) (string, error) {
	cfgPath := filepath.Join(dir, "ttpgate.yaml")
	if _, err := os.Stat(cfgPath); err == nil {
		return cfgPath, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if _, err := crypto.GenerateKeys(filepath.Join(dir, "keys")); err != nil {
		return "", fmt.Errorf("development keys: %w", err)
	}
	pub, err := tenantKey(filepath.Join(dir, "keys", "tenant-vendor-acme"))
	if err != nil {
		return "", fmt.Errorf("development tenant key: %w", err)
	}
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(devConfig, pub)), 0o600); err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "ttpgate: created a development setup in %s (keys, local store, example tenants); edit %s to change it\n", dir, cfgPath)
	return cfgPath, nil
}

// loadConfig loads path, or the development setup when path is empty.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	if path == "" {
		p, err := ensureDevSetup(devDir, stderr)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "ttpgate: no --config given; using the development setup %s\n", p)
		path = p
	}
	return config.Load(path)
}

// configFlag defines the --config flag every command that reads the
// configuration has.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "configuration file (default: the development setup in ./"+devDir+")")
}

// instruments merges the configured instruments over the defaults: an entry
// with the code and scale of a default replaces it, others are added.
func instruments(cfg *config.Config) []schemas.Instrument {
	list := schemas.DefaultInstruments()
	for _, c := range cfg.Processor.Instruments {
		in := schemas.Instrument{Code: c.Code, Scale: c.Scale, Min: c.Min, Max: c.Max, HigherIsWorse: c.HigherIsWorse,
			ReliableChange: c.ReliableChange, ClinicalCutoff: c.ClinicalCutoff, Provisional: c.Provisional}
		replaced := false
		for i := range list {
			if list[i].Code == in.Code && list[i].Scale == in.Scale {
				list[i], replaced = in, true
			}
		}
		if !replaced {
			list = append(list, in)
		}
	}
	return list
}

// openPGPExpiryWarning is how long before its expiry a processor key is
// warned about: time to make a new one and hand it to the senders.
const openPGPExpiryWarning = 60 * 24 * time.Hour

// warnOpenPGPExpiry warns of processor keys that senders cannot encrypt to
// now (expired or revoked), or soon: they still decrypt older messages,
// but GnuPG refuses to encrypt new ones to them.
func warnOpenPGPExpiry(w io.Writer, keys []*crypto.OpenPGPKey, now time.Time) {
	for _, k := range keys {
		switch {
		case !k.EncryptableAt(now):
			fmt.Fprintf(w, "ttpgate: warning: OpenPGP key %s is expired or revoked: senders cannot encrypt to it (it still decrypts older messages)\n", k.Fingerprint())
		case !k.EncryptableAt(now.Add(openPGPExpiryWarning)):
			fmt.Fprintf(w, "ttpgate: warning: OpenPGP key %s expires within 60 days: make a new key and give senders its public key\n", k.Fingerprint())
		}
	}
}

// newProcessor returns the processor cfg configures, logging to stderr;
// more options, such as Progress, are set by with.
func newProcessor(cfg *config.Config, st store.Store, stderr io.Writer, with ...func(*processor.Options)) (*processor.Processor, error) {
	ids, err := crypto.LoadAgeIdentities(cfg.Processor.AgeIdentities...)
	if err != nil {
		return nil, err
	}
	var pgpKeys []*crypto.OpenPGPKey
	if len(cfg.Processor.OpenPGPKeys) > 0 {
		if pgpKeys, err = crypto.LoadOpenPGPKeys(cfg.Processor.OpenPGPKeys...); err != nil {
			return nil, err
		}
		warnOpenPGPExpiry(stderr, pgpKeys, time.Now())
	}
	key, err := crypto.LoadPseudonymKey(cfg.Processor.PseudonymKey)
	if err != nil {
		return nil, err
	}
	ps, err := crypto.NewPseudonymizer(key)
	if err != nil {
		return nil, err
	}
	pc := cfg.Processor
	deref := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	opt := processor.Options{
		Store: st, Tenants: cfg.Tenants, Identities: ids, OpenPGPKeys: pgpKeys, Pseudonymizer: ps,
		MinCell: pc.MinCell, Instruments: instruments(cfg),
		PreBefore: deref(pc.PreWindowBefore), PreAfter: deref(pc.PreWindowAfter),
		PostBefore: deref(pc.PostWindowBefore), PostAfter: deref(pc.PostWindowAfter),
		ClaimTimeout: time.Duration(pc.ClaimTimeout),
		Logger:       newLogger(stderr),
		Version:      version(),
	}
	for _, f := range with {
		f(&opt)
	}
	return processor.New(opt)
}

// tenantKey creates an Ed25519 SSH key pair for an example tenant (the
// private key as OpenSSH writes it, mode 0600) and returns the public key
// as an authorized_keys line.
func tenantKey(path string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "example tenant key (ttpgate development setup)")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " vendor-acme-dev"
	return line, os.WriteFile(path+".pub", []byte(line+"\n"), 0o644)
}
