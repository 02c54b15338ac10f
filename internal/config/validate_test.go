package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// newSSHKey returns a fresh ed25519 public key in authorized_keys form.
func newSSHKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " " + comment
}

func readKey(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// validConfig returns a Config built in code that validates.
func validConfig(t *testing.T) *Config {
	c := &Config{
		Gateway: Gateway{
			SFTP:  SFTP{Listen: "127.0.0.1:2222", HostKeys: []string{"/keys/host"}},
			S3:    S3{Listen: ":8443", TLSCert: "/keys/tls.crt", TLSKey: "/keys/tls.key", CredentialSecret: "/keys/s3.secret"},
			Admin: Admin{Listen: "[::1]:9464"},
		},
		Processor: Processor{
			AgeIdentities: []string{"/keys/processor.agekey"},
			PseudonymKey:  "/keys/pseudonym.key",
			Instruments: []Instrument{
				{Code: "OQ45", Scale: "total", Min: 0, Max: 180, ReliableChange: 14},
				{Code: "OQ45", Scale: "SD", Min: 0, Max: 100, ReliableChange: 10},
			},
		},
		Tenants: []Tenant{
			{
				ID:            "vendor-acme",
				Datasets:      []string{"rom"},
				Organisations: []string{"94012345", "94054321"},
				SSHKeys:       []string{newSSHKey(t, "acme-prod"), newSSHKey(t, "acme-backup")},
				S3AccessKey:   "TTPACME0001",
			},
			{
				ID:            "praktijk-zon",
				Datasets:      []string{"lvr1", "rom"},
				Organisations: []string{"03012345"},
				VSVs:          []string{"VSV-UTR-01"},
				S3AccessKey:   "TTPZON00001",
			},
		},
	}
	c.ApplyDefaults()
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string
	}{
		{"valid", func(c *Config) {}, nil},
		{"no listeners", func(c *Config) { c.Gateway = Gateway{Limits: c.Gateway.Limits} }, nil},
		{"store type", func(c *Config) { c.Store.Type = "ftp" }, []string{`store.type: must be local or s3, not "ftp"`}},
		{"store type unset", func(c *Config) { c.Store.Type = "" }, []string{`store.type: must be local or s3, not ""`}},
		{"local store path", func(c *Config) { c.Store.Path = "" }, []string{"store.path: required for the local store"}},
		{"s3 store missing", func(c *Config) { c.Store.Type = "s3" }, []string{
			"store.s3.endpoint: required when store.type is s3",
			"store.s3.bucket: required when store.type is s3",
			"store.s3.access_key_env: required when store.type is s3: the name of an environment variable",
			"store.s3.secret_key_env: required when store.type is s3: the name of an environment variable",
		}},
		{"s3 store", func(c *Config) { setS3(c, "minio.internal:9000", false) }, nil},
		{"s3 store without port", func(c *Config) { setS3(c, "s3.eu-west-1.amazonaws.com", false) }, nil},
		{"s3 store with scheme", func(c *Config) { setS3(c, "https://minio.internal:9000", false) }, []string{
			"store.s3.endpoint: must be host or host:port, without scheme or path",
		}},
		{"s3 store bad port", func(c *Config) { setS3(c, "minio.internal:http", false) }, []string{
			`store.s3.endpoint: invalid port "http"`,
		}},
		{"s3 store env names", func(c *Config) {
			setS3(c, "minio.internal:9000", false)
			c.Store.S3.AccessKeyEnv = "S3-KEY"
			c.Store.S3.SecretKeyEnv = "$SECRET"
		}, []string{
			`store.s3.access_key_env: must be the name of an environment variable, not "S3-KEY"`,
			`store.s3.secret_key_env: must be the name of an environment variable, not "$SECRET"`,
		}},
		{"s3 store part size", func(c *Config) {
			setS3(c, "minio.internal:9000", false)
			c.Store.S3.PartSize = 4 * MiB
		}, []string{"store.s3.part_size: must be between 5MiB and 5GiB"}},
		{"s3 store insecure", func(c *Config) { setS3(c, "minio.internal:9000", true) }, []string{
			"store.s3.insecure_skip_verify: allowed only for a loopback endpoint (127.0.0.1, ::1, localhost)",
		}},
		{"s3 store insecure public IP", func(c *Config) { setS3(c, "192.0.2.10:9000", true) }, []string{
			"store.s3.insecure_skip_verify: allowed only for a loopback endpoint (127.0.0.1, ::1, localhost)",
		}},
		{"s3 store insecure 127.0.0.1", func(c *Config) { setS3(c, "127.0.0.1:9000", true) }, nil},
		{"s3 store plain HTTP remote", func(c *Config) {
			setS3(c, "minio.internal:9000", false)
			c.Store.S3.Secure = ptr(false)
		}, []string{"store.s3.secure: false (plain HTTP) is allowed only for a loopback endpoint (127.0.0.1, ::1, localhost)"}},
		{"s3 store plain HTTP loopback", func(c *Config) {
			setS3(c, "127.0.0.1:9000", false)
			c.Store.S3.Secure = ptr(false)
		}, nil},
		{"s3 store plain HTTP with TLS options", func(c *Config) {
			setS3(c, "127.0.0.1:9000", true)
			c.Store.S3.Secure = ptr(false)
			c.Store.S3.CAFile = "/keys/ca.pem"
		}, []string{
			"store.s3.secure: is false, so insecure_skip_verify and ca_file have no effect: remove them or use HTTPS",
			"store.s3.ca_file: has no effect with insecure_skip_verify",
		}},
		{"s3 store prefix", func(c *Config) {
			setS3(c, "minio.internal:9000", false)
			c.Store.S3.Prefix = "acceptance/ttpgate"
		}, nil},
		{"s3 store bad prefix", func(c *Config) {
			setS3(c, "minio.internal:9000", false)
			c.Store.S3.Prefix = "../x/"
		}, []string{"store.s3.prefix: must be segments of A-Z a-z 0-9 . _ - separated by single slashes, not starting with a dot, without leading or trailing slash"}},
		{"s3 store insecure 127.3.4.5", func(c *Config) { setS3(c, "127.3.4.5", true) }, nil},
		{"s3 store insecure ::1", func(c *Config) { setS3(c, "[::1]:9000", true) }, nil},
		{"s3 store insecure [::1]", func(c *Config) { setS3(c, "[::1]", true) }, nil},
		{"s3 store insecure localhost", func(c *Config) { setS3(c, "localhost:9000", true) }, nil},
		{"s3 store insecure local-looking name", func(c *Config) { setS3(c, "localhost.example.com:9000", true) }, []string{
			"store.s3.insecure_skip_verify: allowed only for a loopback endpoint (127.0.0.1, ::1, localhost)",
		}},
		{"listen addresses", func(c *Config) {
			c.Gateway.SFTP.Listen = "2222"
			c.Gateway.S3.Listen = "127.0.0.1:84430"
			c.Gateway.Admin.Listen = "localhost:metrics"
		}, []string{
			`gateway.sftp.listen: must be host:port, e.g. 127.0.0.1:2222, not "2222"`,
			`gateway.s3.listen: must be host:port, e.g. 127.0.0.1:2222, not "127.0.0.1:84430"`,
			`gateway.admin.listen: must be host:port, e.g. 127.0.0.1:2222, not "localhost:metrics"`,
		}},
		{"listeners without keys", func(c *Config) {
			c.Gateway.SFTP.HostKeys = nil
			c.Gateway.S3 = S3{Listen: "127.0.0.1:8443"}
		}, []string{
			"gateway.sftp.host_keys: at least one host key is required for SFTP",
			"gateway.s3.tls_cert: required for the S3 endpoint",
			"gateway.s3.tls_key: required for the S3 endpoint",
			"gateway.s3.credential_secret: required for the S3 endpoint",
			"gateway.s3.region: required for the S3 endpoint",
			"gateway.s3.multipart_expiry: must be at least 1m",
		}},
		{"multipart expiry", func(c *Config) { c.Gateway.S3.MultipartExpiry = Duration(59 * time.Second) }, []string{
			"gateway.s3.multipart_expiry: must be at least 1m",
		}},
		{"empty host key path", func(c *Config) { c.Gateway.SFTP.HostKeys = []string{"/k", ""} }, []string{
			"gateway.sftp.host_keys[1]: must be a file path, not empty",
		}},
		{"limits", func(c *Config) {
			c.Gateway.Limits = Limits{MaxFileSize: -1, MaxSessionsPerTenant: -1, Ban: -1}
		}, []string{
			"gateway.limits.max_file_size: must be positive",
			"gateway.limits.max_sessions_per_tenant: must be at least 1",
			"gateway.limits.auth_failures_before_ban: must be at least 1",
			"gateway.limits.ban: must be positive",
			"gateway.limits.handshake_timeout: must be positive",
			"gateway.limits.idle_timeout: must be positive",
		}},
		{"processor keys", func(c *Config) {
			c.Processor.AgeIdentities = nil
			c.Processor.OpenPGPKeys = []string{""}
			c.Processor.PseudonymKey = ""
		}, []string{
			"processor.age_identities: at least one age identity file is required",
			"processor.openpgp_keys[0]: must be a file path, not empty",
			"processor.pseudonym_key: required: the pseudonymisation key file",
		}},
		{"min cell", func(c *Config) { c.Processor.MinCell = 0 }, []string{"processor.min_cell: must be at least 1"}},
		{"windows", func(c *Config) {
			c.Processor.PreWindowBefore = ptr(0)
			c.Processor.PreWindowAfter = ptr(-1)
			c.Processor.PostWindowBefore = nil
			c.Processor.PostWindowAfter = ptr(-21)
		}, []string{
			"processor.pre_window_after_days: must not be negative",
			"processor.post_window_after_days: must not be negative",
		}},
		{"claim timeout", func(c *Config) { c.Processor.ClaimTimeout = 0 }, []string{"processor.claim_timeout: must be positive"}},
		{"instruments", func(c *Config) {
			c.Processor.Instruments = append(c.Processor.Instruments,
				Instrument{Code: "", Min: 0, Max: 10, ReliableChange: 1},
				Instrument{Code: "PHQ9", Min: 27, Max: 0, ReliableChange: 0},
				Instrument{Code: "OQ45", Scale: "total", Min: 0, Max: 180, ReliableChange: 14},
			)
		}, []string{
			"processor.instruments[2].code: required",
			"processor.instruments[3]: min (27) must be less than max (0)",
			"processor.instruments[3].reliable_change: must be positive",
			"processor.instruments[4]: same code and scale as processor.instruments[0]",
		}},
		{"no tenants", func(c *Config) { c.Tenants = nil }, []string{"tenants: at least one tenant is required"}},
		{"tenant without id", func(c *Config) { c.Tenants[1].ID = "" }, []string{"tenants[1].id: required"}},
		{"duplicate tenant id", func(c *Config) { c.Tenants[1].ID = "vendor-acme" }, []string{
			`tenants[1].id: duplicate tenant id "vendor-acme": also tenants[0]`,
		}},
		{"datasets", func(c *Config) {
			c.Tenants[0].Datasets = nil
			c.Tenants[1].Datasets = []string{"lvr1", "ROM", "lvr1"}
		}, []string{
			"tenants[0].datasets: at least one dataset is required (rom, lvr1)",
			`tenants[1].datasets[1]: unknown dataset "ROM": want rom or lvr1`,
			"tenants[1].datasets[2]: duplicate of datasets[0]",
		}},
		{"organisations", func(c *Config) {
			c.Tenants[0].Organisations = []string{"9401234", "94012345", "940123456", "94012345", "9401234a", " 94012345"}
			c.Tenants[1].Organisations = nil
		}, []string{
			"tenants[0].organisations[0]: AGB code must be 8 digits",
			"tenants[0].organisations[2]: AGB code must be 8 digits",
			"tenants[0].organisations[3]: duplicate of organisations[1]",
			"tenants[0].organisations[4]: AGB code must be 8 digits",
			"tenants[0].organisations[5]: AGB code must be 8 digits",
			"tenants[1].organisations: at least one organisation (AGB code) is required",
		}},
		{"lvr1 without vsvs", func(c *Config) { c.Tenants[1].VSVs = nil }, []string{
			"tenants[1].vsvs: at least one VSV is required for a tenant that delivers lvr1",
		}},
		{"vsvs", func(c *Config) {
			c.Tenants[1].VSVs = []string{"VSV-UTR-01", "", "VSV_UTR", "VSV-UTRECHT-STAD1", "vsv-utr-01", "V", "nl"}
		}, []string{
			"tenants[1].vsvs[1]: VSV code must be 1 to 16 letters, digits and hyphens",
			"tenants[1].vsvs[2]: VSV code must be 1 to 16 letters, digits and hyphens",
			"tenants[1].vsvs[3]: VSV code must be 1 to 16 letters, digits and hyphens",
			"tenants[1].vsvs[4]: duplicate of vsvs[0]",
			"tenants[1].vsvs[6]: VSV code NL is reserved for the national row of the outputs",
		}},
		{"ssh keys", func(c *Config) {
			k := newSSHKey(t, "k")
			c.Tenants[0].SSHKeys = []string{
				k,
				"ssh-ed25519 AAAAnotakey x",
				"",
				`from="10.0.0.0/8" ` + k,
				k + "\n" + newSSHKey(t, "second"),
				readKey(t, "dsa.pub"),
				readKey(t, "rsa1024.pub"),
				k + "\n",
			}
		}, []string{
			"tenants[0].ssh_keys[1]: not an SSH public key in authorized_keys form (type, base64 key, optional comment)",
			"tenants[0].ssh_keys[2]: not an SSH public key in authorized_keys form (type, base64 key, optional comment)",
			"tenants[0].ssh_keys[3]: authorized_keys options are not supported",
			"tenants[0].ssh_keys[4]: holds more than one key: give each key as its own list item",
			"tenants[0].ssh_keys[5]: DSA keys are not accepted",
			"tenants[0].ssh_keys[6]: RSA key of 1024 bits: at least 2048 are required",
		}},
		{"s3 access keys", func(c *Config) {
			c.Tenants[0].S3AccessKey = "ttpacme0001"
			c.Tenants[1].S3AccessKey = "TTPACME0001"
			c.Tenants = append(c.Tenants,
				Tenant{ID: "t3", Datasets: []string{"rom"}, Organisations: []string{"94012345"}, S3AccessKey: "TTPACME0001"},
				Tenant{ID: "t-4", Datasets: []string{"rom"}, Organisations: []string{"94012345"}, S3AccessKey: "TTP1234"},
				Tenant{ID: "t-5", Datasets: []string{"rom"}, Organisations: []string{"94012345"}, S3AccessKey: strings.Repeat("A", 65)},
				Tenant{ID: "t-6", Datasets: []string{"rom"}, Organisations: []string{"94012345"}, S3AccessKey: strings.Repeat("A", 64)},
			)
		}, []string{
			"tenants[0].s3_access_key: must be 8 to 64 characters A-Z and 0-9",
			`tenants[2].id: must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit, not "t3"`,
			"tenants[2].s3_access_key: same S3 access key as tenants[1]",
			"tenants[3].s3_access_key: must be 8 to 64 characters A-Z and 0-9",
			"tenants[4].s3_access_key: must be 8 to 64 characters A-Z and 0-9",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.modify(c)
			var got []string
			for _, p := range c.Validate() {
				if p.Line != 0 || p.File != "" {
					t.Errorf("problem %q has a place: %s:%d", p.Msg, p.File, p.Line)
				}
				got = append(got, p.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func setS3(c *Config, endpoint string, insecure bool) {
	c.Store.Type = "s3"
	c.Store.S3.Endpoint = endpoint
	c.Store.S3.Bucket = "ttpgate"
	c.Store.S3.AccessKeyEnv = "TTPGATE_S3_ACCESS_KEY"
	c.Store.S3.SecretKeyEnv = "TTPGATE_S3_SECRET_KEY"
	c.Store.S3.InsecureSkipVerify = insecure
}

func TestValidateTenantID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"abc", true},
		{"vendor-acme", true},
		{"a-1", true},
		{"123", true},
		{"a--b", true},
		{strings.Repeat("a", 63), true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"Vendor", false},
		{"-abc", false},
		{"abc-", false},
		{"a_b", false},
		{"a.b", false},
		{"vendor acme", false},
		{"véndor", false},
		{"../etc", false},
	}
	for _, tt := range tests {
		c := validConfig(t)
		c.Tenants[0].ID = tt.id
		probs := c.Validate()
		if ok := len(probs) == 0; ok != tt.ok {
			t.Errorf("tenant id %q: got problems %v, want ok %v", tt.id, probs, tt.ok)
		}
	}
}

func TestTenantLookup(t *testing.T) {
	c := validConfig(t)
	acme, ok := c.Tenant("vendor-acme")
	if !ok || acme != &c.Tenants[0] {
		t.Fatalf("Tenant(vendor-acme) = %p, %v; want %p, true", acme, ok, &c.Tenants[0])
	}
	zon, ok := c.Tenant("praktijk-zon")
	if !ok || zon != &c.Tenants[1] {
		t.Fatalf("Tenant(praktijk-zon) = %p, %v; want %p, true", zon, ok, &c.Tenants[1])
	}
	for _, id := range []string{"", "Vendor-Acme", "vendor", "nobody"} {
		if tn, ok := c.Tenant(id); ok || tn != nil {
			t.Errorf("Tenant(%q) = %v, %v; want nil, false", id, tn, ok)
		}
	}
	if tn, ok := c.TenantByS3AccessKey("TTPZON00001"); !ok || tn != zon {
		t.Errorf("TenantByS3AccessKey(TTPZON00001) = %v, %v; want praktijk-zon", tn, ok)
	}
	for _, k := range []string{"", "ttpzon00001", "TTPNONE0001"} {
		if tn, ok := c.TenantByS3AccessKey(k); ok || tn != nil {
			t.Errorf("TenantByS3AccessKey(%q) = %v, %v; want nil, false", k, tn, ok)
		}
	}

	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"acme may deliver rom", acme.MayDeliver("rom"), true},
		{"acme may deliver lvr1", acme.MayDeliver("lvr1"), false},
		{"acme may deliver ROM", acme.MayDeliver("ROM"), false},
		{"zon may deliver lvr1", zon.MayDeliver("lvr1"), true},
		{"acme allows 94054321", acme.AllowsOrganisation("94054321"), true},
		{"acme allows 03012345", acme.AllowsOrganisation("03012345"), false},
		{"acme allows 9405432", acme.AllowsOrganisation("9405432"), false},
		{"acme allows empty", acme.AllowsOrganisation(""), false},
		{"zon allows VSV-UTR-01", zon.AllowsVSV("VSV-UTR-01"), true},
		{"zon allows vsv-utr-01", zon.AllowsVSV("vsv-utr-01"), true},
		{"zon allows VSV-UTR-02", zon.AllowsVSV("VSV-UTR-02"), false},
		{"zon allows empty", zon.AllowsVSV(""), false},
		{"acme allows VSV-UTR-01", acme.AllowsVSV("VSV-UTR-01"), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
