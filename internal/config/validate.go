package config

import (
	"crypto/rsa"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Datasets a tenant may deliver.
const (
	DatasetROM  = "rom"
	DatasetLVR1 = "lvr1"
)

var (
	// tenantID follows the S3 bucket name rules, less dots: a tenant id is
	// a bucket name on the S3 endpoint and a user name on SFTP.
	tenantID    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	agbCode     = regexp.MustCompile(`^[0-9]{8}$`)
	vsvCode     = regexp.MustCompile(`^[A-Za-z0-9-]{1,16}$`)
	s3AccessKey = regexp.MustCompile(`^[A-Z0-9]{8,64}$`)
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// minRSABits is the smallest RSA key accepted for SSH.
const minRSABits = 2048

// minMultipartExpiry is the shortest gateway.s3.multipart_expiry: a
// multipart upload needs time to be completed.
const minMultipartExpiry = Duration(time.Minute)

// S3 bounds on the size of a multipart part.
const (
	minPartSize = 5 * MiB
	maxPartSize = 5 * GiB
)

// Validate checks c as it is and returns every problem found, with its
// path; nil when there is none. It checks values, not files: whether a key
// file exists and is private is checked by whoever opens it. Call
// ApplyDefaults first on a Config built in code.
func (c *Config) Validate() Problems {
	var v validator
	c.Store.validate(&v)
	c.Gateway.validate(&v)
	c.Processor.validate(&v)
	validateTenants(&v, c.Tenants)
	return v.problems
}

type validator struct{ problems Problems }

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (s *Store) validate(v *validator) {
	switch s.Type {
	case "local":
		if s.Path == "" {
			v.add("store.path", "required for the local store")
		}
	case "s3":
		s.S3.validate(v)
	default:
		v.add("store.type", "must be local or s3, not %s", quote(s.Type))
	}
}

func (s *S3Store) validate(v *validator) {
	const p = "store.s3"
	switch host, err := endpointHost(s.Endpoint); {
	case s.Endpoint == "":
		v.add(p+".endpoint", "required when store.type is s3")
	case err != nil:
		v.add(p+".endpoint", "%v", err)
	case s.InsecureSkipVerify && !isLoopback(host):
		v.add(p+".insecure_skip_verify", "allowed only for a loopback endpoint (127.0.0.1, ::1, localhost)")
	case s.Secure != nil && !*s.Secure && !isLoopback(host):
		v.add(p+".secure", "false (plain HTTP) is allowed only for a loopback endpoint (127.0.0.1, ::1, localhost)")
	}
	if s.Secure != nil && !*s.Secure && (s.InsecureSkipVerify || s.CAFile != "") {
		v.add(p+".secure", "is false, so insecure_skip_verify and ca_file have no effect: remove them or use HTTPS")
	}
	if s.InsecureSkipVerify && s.CAFile != "" {
		v.add(p+".ca_file", "has no effect with insecure_skip_verify")
	}
	if s.Prefix != "" && !validPrefix(s.Prefix) {
		v.add(p+".prefix", "must be segments of A-Z a-z 0-9 . _ - separated by single slashes, not starting with a dot, without leading or trailing slash")
	}
	if s.Bucket == "" {
		v.add(p+".bucket", "required when store.type is s3")
	}
	for _, e := range []struct{ key, name string }{
		{"access_key_env", s.AccessKeyEnv},
		{"secret_key_env", s.SecretKeyEnv},
	} {
		switch {
		case e.name == "":
			v.add(p+"."+e.key, "required when store.type is s3: the name of an environment variable")
		case !envName.MatchString(e.name):
			v.add(p+"."+e.key, "must be the name of an environment variable, not %s", quote(e.name))
		}
	}
	if s.PartSize < minPartSize || s.PartSize > maxPartSize {
		v.add(p+".part_size", "must be between %v and %v", minPartSize, maxPartSize)
	}
}

// endpointHost returns the host of an S3 endpoint written as host or
// host:port, as minio-go takes it.
func endpointHost(endpoint string) (string, error) {
	if strings.Contains(endpoint, "/") {
		return "", fmt.Errorf("must be host or host:port, without scheme or path")
	}
	if host, port, err := net.SplitHostPort(endpoint); err == nil {
		if !validPort(port) {
			return "", fmt.Errorf("invalid port %s", quote(port))
		}
		return host, nil
	}
	return strings.TrimSuffix(strings.TrimPrefix(endpoint, "["), "]"), nil
}

var prefixSegment = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,62}$`)

// validPrefix accepts a key prefix of plain segments.
func validPrefix(p string) bool {
	if len(p) > 200 {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if !prefixSegment.MatchString(seg) {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validPort(port string) bool {
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n <= 65535
}

// checkListen checks a listen address, host:port; an empty host means all
// interfaces, port 0 a port chosen by the system.
func checkListen(v *validator, path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || !validPort(port) {
		v.add(path, "must be host:port, e.g. 127.0.0.1:2222, not %s", quote(addr))
	}
}

func (g *Gateway) validate(v *validator) {
	// An empty listen address means the listener is not configured; the
	// command that needs it says so.
	if g.SFTP.Listen != "" {
		checkListen(v, "gateway.sftp.listen", g.SFTP.Listen)
		if len(g.SFTP.HostKeys) == 0 {
			v.add("gateway.sftp.host_keys", "at least one host key is required for SFTP")
		}
	}
	checkPaths(v, "gateway.sftp.host_keys", g.SFTP.HostKeys)
	if g.S3.Listen != "" {
		checkListen(v, "gateway.s3.listen", g.S3.Listen)
		for _, f := range []struct{ key, path string }{
			{"tls_cert", g.S3.TLSCert},
			{"tls_key", g.S3.TLSKey},
			{"credential_secret", g.S3.CredentialSecret},
		} {
			if f.path == "" {
				v.add("gateway.s3."+f.key, "required for the S3 endpoint")
			}
		}
		if g.S3.Region == "" {
			v.add("gateway.s3.region", "required for the S3 endpoint")
		}
		if g.S3.MultipartExpiry < minMultipartExpiry {
			v.add("gateway.s3.multipart_expiry", "must be at least 1m")
		}
	}
	if g.Admin.Listen != "" {
		checkListen(v, "gateway.admin.listen", g.Admin.Listen)
	}

	l := &g.Limits
	const p = "gateway.limits."
	if l.MaxFileSize <= 0 {
		v.add(p+"max_file_size", "must be positive")
	}
	if l.MaxSessionsPerTenant < 1 {
		v.add(p+"max_sessions_per_tenant", "must be at least 1")
	}
	if l.AuthFailuresBeforeBan < 1 {
		v.add(p+"auth_failures_before_ban", "must be at least 1")
	}
	for _, d := range []struct {
		key string
		d   Duration
	}{
		{"ban", l.Ban},
		{"handshake_timeout", l.HandshakeTimeout},
		{"idle_timeout", l.IdleTimeout},
	} {
		if d.d <= 0 {
			v.add(p+d.key, "must be positive")
		}
	}
}

// checkPaths reports empty entries in a list of file paths.
func checkPaths(v *validator, path string, paths []string) {
	for i, p := range paths {
		if p == "" {
			v.add(fmt.Sprintf("%s[%d]", path, i), "must be a file path, not empty")
		}
	}
}

func (p *Processor) validate(v *validator) {
	if len(p.AgeIdentities) == 0 {
		v.add("processor.age_identities", "at least one age identity file is required")
	}
	checkPaths(v, "processor.age_identities", p.AgeIdentities)
	checkPaths(v, "processor.openpgp_keys", p.OpenPGPKeys)
	if p.PseudonymKey == "" {
		v.add("processor.pseudonym_key", "required: the pseudonymisation key file")
	}
	if p.MinCell < 1 {
		v.add("processor.min_cell", "must be at least 1")
	}
	for _, w := range []struct {
		key  string
		days *int
	}{
		{"pre_window_before_days", p.PreWindowBefore},
		{"pre_window_after_days", p.PreWindowAfter},
		{"post_window_before_days", p.PostWindowBefore},
		{"post_window_after_days", p.PostWindowAfter},
	} {
		if w.days != nil && *w.days < 0 {
			v.add("processor."+w.key, "must not be negative")
		}
	}
	type codeScale struct{ code, scale string }
	seen := map[codeScale]int{}
	for i, in := range p.Instruments {
		path := fmt.Sprintf("processor.instruments[%d]", i)
		if in.Code == "" {
			v.add(path+".code", "required")
		}
		if !(in.Min < in.Max) {
			v.add(path, "min (%v) must be less than max (%v)", in.Min, in.Max)
		}
		if !(in.ReliableChange > 0) {
			v.add(path+".reliable_change", "must be positive")
		}
		k := codeScale{in.Code, in.Scale}
		if j, dup := seen[k]; dup {
			v.add(path, "same code and scale as processor.instruments[%d]", j)
		} else {
			seen[k] = i
		}
	}
	if p.ClaimTimeout <= 0 {
		v.add("processor.claim_timeout", "must be positive")
	}
}

func validateTenants(v *validator, tenants []Tenant) {
	if len(tenants) == 0 {
		v.add("tenants", "at least one tenant is required")
	}
	ids := map[string]int{}
	accessKeys := map[string]int{}
	for i := range tenants {
		t := &tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		switch {
		case t.ID == "":
			v.add(p+".id", "required")
		case !tenantID.MatchString(t.ID):
			v.add(p+".id", "must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit, not %s", quote(t.ID))
		}
		if j, dup := ids[t.ID]; dup && t.ID != "" {
			v.add(p+".id", "duplicate tenant id %q: also tenants[%d]", t.ID, j)
		} else {
			ids[t.ID] = i
		}
		t.validate(v, p)
		if t.S3AccessKey != "" {
			if j, dup := accessKeys[t.S3AccessKey]; dup {
				v.add(p+".s3_access_key", "same S3 access key as tenants[%d]", j)
			} else {
				accessKeys[t.S3AccessKey] = i
			}
		}
	}
}

func (t *Tenant) validate(v *validator, p string) {
	if len(t.Datasets) == 0 {
		v.add(p+".datasets", "at least one dataset is required (rom, lvr1)")
	}
	seen := map[string]int{}
	for i, ds := range t.Datasets {
		path := fmt.Sprintf("%s.datasets[%d]", p, i)
		if ds != DatasetROM && ds != DatasetLVR1 {
			v.add(path, "unknown dataset %s: want rom or lvr1", quote(ds))
		} else if j, dup := seen[ds]; dup {
			v.add(path, "duplicate of datasets[%d]", j)
		} else {
			seen[ds] = i
		}
	}

	if len(t.Organisations) == 0 {
		v.add(p+".organisations", "at least one organisation (AGB code) is required")
	}
	clear(seen)
	for i, agb := range t.Organisations {
		path := fmt.Sprintf("%s.organisations[%d]", p, i)
		if !agbCode.MatchString(agb) {
			v.add(path, "AGB code must be 8 digits")
		} else if j, dup := seen[agb]; dup {
			v.add(path, "duplicate of organisations[%d]", j)
		} else {
			seen[agb] = i
		}
	}

	if t.MayDeliver(DatasetLVR1) && len(t.VSVs) == 0 {
		v.add(p+".vsvs", "at least one VSV is required for a tenant that delivers lvr1")
	}
	clear(seen)
	for i, vsv := range t.VSVs {
		path := fmt.Sprintf("%s.vsvs[%d]", p, i)
		if !vsvCode.MatchString(vsv) {
			v.add(path, "VSV code must be 1 to 16 letters, digits and hyphens")
		} else if strings.EqualFold(vsv, "NL") {
			v.add(path, "VSV code NL is reserved for the national row of the outputs")
		} else if j, dup := seen[strings.ToUpper(vsv)]; dup {
			v.add(path, "duplicate of vsvs[%d]", j)
		} else {
			seen[strings.ToUpper(vsv)] = i
		}
	}

	for i, key := range t.SSHKeys {
		if msg := checkSSHKey(key); msg != "" {
			v.add(fmt.Sprintf("%s.ssh_keys[%d]", p, i), "%s", msg)
		}
	}

	if t.S3AccessKey != "" && !s3AccessKey.MatchString(t.S3AccessKey) {
		v.add(p+".s3_access_key", "must be 8 to 64 characters A-Z and 0-9")
	}
}

// checkSSHKey returns what is wrong with an authorized key, or "". The
// message never holds the key.
func checkSSHKey(line string) string {
	key, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	switch {
	case err != nil:
		return "not an SSH public key in authorized_keys form (type, base64 key, optional comment)"
	case len(options) > 0:
		// The gateway does not apply options; accepting them would let an
		// operator believe a from= or command= restriction holds.
		return "authorized_keys options are not supported"
	case len(strings.TrimSpace(string(rest))) > 0:
		return "holds more than one key: give each key as its own list item"
	case key.Type() == ssh.InsecureKeyAlgoDSA:
		return "DSA keys are not accepted"
	}
	if k, ok := key.(ssh.CryptoPublicKey); ok {
		if rk, ok := k.CryptoPublicKey().(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
			return fmt.Sprintf("RSA key of %d bits: at least %d are required", rk.N.BitLen(), minRSABits)
		}
	}
	return ""
}

// Tenant returns the tenant with the given id.
func (c *Config) Tenant(id string) (*Tenant, bool) {
	for i := range c.Tenants {
		if c.Tenants[i].ID == id {
			return &c.Tenants[i], true
		}
	}
	return nil, false
}

// TenantByS3AccessKey returns the tenant with the given S3 access key id.
func (c *Config) TenantByS3AccessKey(key string) (*Tenant, bool) {
	if key == "" {
		return nil, false
	}
	for i := range c.Tenants {
		if c.Tenants[i].S3AccessKey == key {
			return &c.Tenants[i], true
		}
	}
	return nil, false
}

// MayDeliver reports whether the tenant may deliver the dataset ("rom",
// "lvr1").
func (t *Tenant) MayDeliver(dataset string) bool {
	return slices.Contains(t.Datasets, dataset)
}

// AllowsOrganisation reports whether the tenant may deliver for the
// organisation with the given AGB code.
func (t *Tenant) AllowsOrganisation(agb string) bool {
	return slices.Contains(t.Organisations, agb)
}

// AllowsVSV reports whether the tenant may deliver for the VSV with the
// given code; VSV codes compare without regard to case.
func (t *Tenant) AllowsVSV(code string) bool {
	for _, vsv := range t.VSVs {
		if strings.EqualFold(vsv, code) {
			return true
		}
	}
	return false
}
