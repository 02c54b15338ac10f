// Package config holds ttpgate's one configuration: a YAML file decoded
// strictly (unknown keys are errors) and validated completely at start, every
// problem reported at once with its line in the file.
package config

import "time"

// Config is the whole configuration file. Relative paths in it are resolved
// against the directory of the file by Load.
type Config struct {
	Store     Store     `yaml:"store"`
	Gateway   Gateway   `yaml:"gateway"`
	Processor Processor `yaml:"processor"`
	Tenants   []Tenant  `yaml:"tenants"`

	// Path is the file this configuration was loaded from ("" when built in code).
	Path string `yaml:"-"`
}

// Store selects and configures the store backend.
type Store struct {
	// Type is "local" (the default) or "s3".
	Type string `yaml:"type"`
	// Path is the folder of the local store.
	Path string `yaml:"path"`
	// S3 configures the S3 store (type s3).
	S3 S3Store `yaml:"s3"`
}

// S3Store configures the S3 backend. Credentials come from environment
// variables named here, never from the file.
type S3Store struct {
	// Endpoint is host or host:port, without scheme ("127.0.0.1:9000").
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	// Region is the bucket's region; when empty it is asked of the bucket.
	Region string `yaml:"region"`
	// Secure selects HTTPS (default true).
	Secure *bool `yaml:"secure"`
	// AccessKeyEnv and SecretKeyEnv name the environment variables that
	// hold the credentials.
	AccessKeyEnv string `yaml:"access_key_env"`
	SecretKeyEnv string `yaml:"secret_key_env"`
	// PartSize is the multipart part size in bytes (default 16 MiB).
	PartSize ByteSize `yaml:"part_size"`
	// InsecureSkipVerify disables TLS verification; allowed only for a
	// loopback endpoint.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CAFile is a PEM file of certificates to trust instead of the system's
	// (a private CA in front of MinIO, say).
	CAFile string `yaml:"ca_file"`
	// Prefix places every key under Prefix/ in the bucket, so that several
	// deployments (test, acceptance) can share one bucket.
	Prefix string `yaml:"prefix"`
}

// Gateway configures `ttpgate serve`.
type Gateway struct {
	SFTP   SFTP   `yaml:"sftp"`
	S3     S3     `yaml:"s3"`
	Admin  Admin  `yaml:"admin"`
	Limits Limits `yaml:"limits"`
}

// SFTP configures the SFTP listener.
type SFTP struct {
	// Listen is the address, host:port. Validate checks it when it is set;
	// a command that needs the listener requires it.
	Listen string `yaml:"listen"`
	// HostKeys are private key files; at least one when Listen is set.
	HostKeys []string `yaml:"host_keys"`
}

// S3 configures the S3-compatible HTTPS endpoint.
type S3 struct {
	// Listen is the address, host:port, checked as SFTP.Listen is; when it
	// is set, TLSCert, TLSKey and CredentialSecret are required.
	Listen  string `yaml:"listen"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Region is the region clients sign for (default eu-west-1).
	Region string `yaml:"region"`
	// CredentialSecret is the file of the secret from which the tenants'
	// S3 secret keys are derived.
	CredentialSecret string `yaml:"credential_secret"`
	// MultipartExpiry is how long a multipart upload may stay neither
	// completed nor aborted before its parts are removed (default 24h, at
	// least 1m).
	MultipartExpiry Duration `yaml:"multipart_expiry"`
}

// Admin configures the admin listener (/healthz, /metrics).
type Admin struct {
	// Listen is the address, host:port, checked as SFTP.Listen is.
	Listen string `yaml:"listen"`
}

// Limits bounds what clients control.
type Limits struct {
	MaxFileSize           ByteSize `yaml:"max_file_size"`            // default 20GiB
	MaxSessionsPerTenant  int      `yaml:"max_sessions_per_tenant"`  // default 16
	AuthFailuresBeforeBan int      `yaml:"auth_failures_before_ban"` // default 10
	Ban                   Duration `yaml:"ban"`                      // default 15m
	HandshakeTimeout      Duration `yaml:"handshake_timeout"`        // default 30s
	IdleTimeout           Duration `yaml:"idle_timeout"`             // default 10m
}

// Processor configures `ttpgate process`.
type Processor struct {
	// AgeIdentities are the age identity files (at least one).
	AgeIdentities []string `yaml:"age_identities"`
	// OpenPGPKeys are ASCII-armoured OpenPGP private key files, optional:
	// openpgp.key from `ttpgate keygen`, or a key exported with
	// `gpg --export-secret-keys --armor`, without a passphrase. Without
	// one, OpenPGP deliveries are rejected (not_decryptable). Like
	// AgeIdentities, the files are read, and their mode checked, when the
	// processor starts.
	OpenPGPKeys []string `yaml:"openpgp_keys"`
	// PseudonymKey is the pseudonymisation key file (required).
	PseudonymKey string `yaml:"pseudonym_key"`
	// MinCell is the smallest count that may be published (default 10).
	MinCell int `yaml:"min_cell"`
	// Windows of the ROM pre and post measurements, in days (defaults 90/21
	// around traject_start, 42/21 around traject_eind).
	PreWindowBefore  *int `yaml:"pre_window_before_days"`
	PreWindowAfter   *int `yaml:"pre_window_after_days"`
	PostWindowBefore *int `yaml:"post_window_before_days"`
	PostWindowAfter  *int `yaml:"post_window_after_days"`
	// Instruments overrides or adds instrument parameters by code.
	Instruments []Instrument `yaml:"instruments"`
	// ClaimTimeout: a claim older than this is taken as abandoned (default 1h).
	ClaimTimeout Duration `yaml:"claim_timeout"`
}

// Instrument holds the parameters of one ROM instrument and scale. Code is
// required, Min must be less than Max and ReliableChange positive; a (Code,
// Scale) pair may appear once.
type Instrument struct {
	Code           string  `yaml:"code"`
	Scale          string  `yaml:"scale"`
	Min            float64 `yaml:"min"`
	Max            float64 `yaml:"max"`
	HigherIsWorse  bool    `yaml:"higher_is_worse"`
	ReliableChange float64 `yaml:"reliable_change"`
	ClinicalCutoff float64 `yaml:"clinical_cutoff"`
	Provisional    bool    `yaml:"provisional"`
}

// Tenant is one party that delivers files.
type Tenant struct {
	// ID is the SFTP user name and the S3 bucket name: 3 to 63 lowercase
	// letters, digits and hyphens, starting and ending with a letter or
	// digit.
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Datasets the tenant may deliver: "rom", "lvr1".
	Datasets []string `yaml:"datasets"`
	// Organisations are the AGB codes (8 digits) it may deliver for.
	Organisations []string `yaml:"organisations"`
	// VSVs it may deliver for (lvr1): codes of 1 to 16 letters, digits
	// and hyphens, compared without regard to case. A tenant that
	// delivers lvr1 needs at least one.
	VSVs []string `yaml:"vsvs"`
	// SSHKeys are public keys in authorized_keys form, one key an item,
	// without options; DSA and RSA below 2048 bits are refused.
	SSHKeys []string `yaml:"ssh_keys"`
	// S3AccessKey is the tenant's S3 access key id: 8 to 64 characters
	// A-Z and 0-9, unique across tenants. Empty: no S3 access.
	S3AccessKey string `yaml:"s3_access_key"`
}

// ByteSize is a size in bytes written as 1024, "20GiB", "512MiB", "10MB".
type ByteSize int64

// Duration is a time.Duration written as "15m", "1h30m".
type Duration time.Duration
