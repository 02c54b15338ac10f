package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestLoadValid(t *testing.T) {
	path := filepath.Join("testdata", "valid.yaml")
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	want := &Config{
		Path: path,
		Store: Store{
			Type: "local",
			Path: abs("store"),
			S3:   S3Store{Secure: ptr(true), PartSize: 16 * MiB},
		},
		Gateway: Gateway{
			SFTP: SFTP{Listen: "127.0.0.1:2222", HostKeys: []string{abs("keys/ssh_host_ed25519_key")}},
			S3: S3{
				Listen:           "127.0.0.1:8443",
				TLSCert:          abs("keys/tls.crt"),
				TLSKey:           abs("keys/tls.key"),
				Region:           "eu-west-1",
				CredentialSecret: abs("keys/s3.secret"),
				MultipartExpiry:  Duration(24 * time.Hour),
			},
			Admin: Admin{Listen: "127.0.0.1:9464"},
			Limits: Limits{
				MaxFileSize:           20 * GiB,
				MaxSessionsPerTenant:  16,
				AuthFailuresBeforeBan: 10,
				Ban:                   Duration(15 * time.Minute),
				HandshakeTimeout:      Duration(30 * time.Second),
				IdleTimeout:           Duration(10 * time.Minute),
			},
		},
		Processor: Processor{
			AgeIdentities:    []string{abs("keys/processor.agekey")},
			OpenPGPKeys:      []string{abs("keys/openpgp.key")},
			PseudonymKey:     abs("keys/pseudonym.key"),
			MinCell:          10,
			PreWindowBefore:  ptr(90),
			PreWindowAfter:   ptr(21),
			PostWindowBefore: ptr(42),
			PostWindowAfter:  ptr(21),
			ClaimTimeout:     Duration(time.Hour),
		},
		Tenants: []Tenant{
			{
				ID:            "vendor-acme",
				Name:          "ACME ROM software",
				Datasets:      []string{"rom"},
				Organisations: []string{"94012345", "94054321"},
				SSHKeys:       []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKZn7srbQ+VAOmde1KWmZAfSbVKRFr2OJKhYJVUKnMM5 acme-prod"},
				S3AccessKey:   "TTPACME0001",
			},
			{
				ID:            "praktijk-zon",
				Name:          "Verloskundigenpraktijk De Zon",
				Datasets:      []string{"lvr1"},
				Organisations: []string{"03012345"},
				VSVs:          []string{"VSV-UTR-01"},
				S3AccessKey:   "TTPZON00001",
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%s):\ngot\n%s\nwant\n%s", path, dump(t, got), dump(t, want))
	}
}

func dump(t *testing.T, c *Config) string {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return "path: " + c.Path + "\n" + string(b)
}

func TestLoadProblems(t *testing.T) {
	path := filepath.Join("testdata", "problems.yaml")
	_, err := Load(path)
	var got Problems
	if !errors.As(err, &got) {
		t.Fatalf("Load(%s): got error %v, want Problems", path, err)
	}
	type place struct {
		line, column int
		path, msg    string
	}
	want := []place{
		{5, 1, "", `unknown key "log_level"`},
		{10, 5, "gateway.sftp", `unknown key "listn" (did you mean "listen"?)`},
		{11, 11, "gateway.admin.listen", `must be host:port, e.g. 127.0.0.1:2222, not "localhost"`},
		{13, 20, "gateway.limits.max_file_size", `invalid size "20 GB?": want a whole number and an optional unit B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. 20GiB`},
		{15, 5, "gateway.limits", `key "ban" already given at line 14`},
		{19, 13, "processor.min_cell", `must be a whole number, not "ten"`},
		{23, 33, "tenants[0].organisations[1]", `AGB code must be 8 digits`},
		{26, 9, "tenants[0].ssh_keys[1]", `not an SSH public key in authorized_keys form (type, base64 key, optional comment)`},
		{28, 5, "tenants[1].vsvs", `at least one VSV is required for a tenant that delivers lvr1`},
		{31, 5, "tenants[1]", `unknown key "ssh_key" (did you mean "ssh_keys"?)`},
		{32, 5, "tenants[2].id", `duplicate tenant id "vendor-acme": also tenants[0]`},
		{33, 21, "tenants[2].datasets[1]", `duplicate of datasets[0]`},
		{33, 26, "tenants[2].datasets[2]", `unknown dataset "prom": want rom or lvr1`},
		{34, 20, "tenants[2].organisations", `must be a list, not "94012345"`},
		{35, 5, "tenants[2].s3_access_key", `same S3 access key as tenants[0]`},
	}
	var gotPlaces []place
	for _, p := range got {
		if p.File != path {
			t.Errorf("problem %q: got file %q, want %q", p.Msg, p.File, path)
		}
		gotPlaces = append(gotPlaces, place{p.Line, p.Column, p.Path, p.Msg})
	}
	if !reflect.DeepEqual(gotPlaces, want) {
		t.Errorf("Load(%s) problems:\ngot  %+v\nwant %+v", path, gotPlaces, want)
	}

	// The error message lists one problem a line.
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines in the message, want %d:\n%s", len(lines), len(want), err)
	}
	wantLine := `testdata/problems.yaml:23: tenants[0].organisations[1]: AGB code must be 8 digits`
	if got := lines[6]; got != filepath.FromSlash(wantLine) {
		t.Errorf("line 7 of the message: got %q, want %q", got, wantLine)
	}
	// The bad key is never echoed.
	if strings.Contains(err.Error(), "AAAAnotakey") {
		t.Errorf("message holds the SSH key:\n%s", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	// A tenant block that validates, for files that must get past Validate.
	const base = `processor: {age_identities: [id.age], pseudonym_key: p.key}
tenants:
  - {id: vendor-acme, datasets: [rom], organisations: ["94012345"]}
`
	tests := []struct {
		name, data string
		want       string // the error message; "" for none
	}{
		{"empty", "", "F: configuration is empty"},
		{"only comments", "# nothing here\n\n", "F: configuration is empty"},
		{"empty document", "---\n", "F: configuration is empty"},
		{"null", "~\n", "F: configuration is empty"},
		{"syntax", "store: {type: local\n", "F:1: invalid YAML: did not find expected ',' or '}'"},
		{"tab", "store:\n\ttype: local\n", "F:2: invalid YAML: found character that cannot start any token"},
		{"two documents", "store: {}\n---\nstore: {}\n", "F:2: a second YAML document: the file must hold one"},
		{"list", "- a\n- b\n", "F:1: must be a mapping, not a list"},
		{"scalar", "hello\n", `F:1: must be a mapping, not "hello"`},
		{"complex key", "? [a]\n: b\n" + base, "F:1: a key must be a plain string, not a list"},
		{"no tenants", "processor: {age_identities: [id.age], pseudonym_key: p.key}\n", "F: tenants: at least one tenant is required"},
		{"tenants null", "tenants:\nprocessor: {age_identities: [id.age], pseudonym_key: p.key}\n", "F:1: tenants: at least one tenant is required"},
		{"tenants not a list", "tenants: vendor-acme\nprocessor: {age_identities: [id.age], pseudonym_key: p.key}\n", `F:1: tenants: must be a list, not "vendor-acme"`},
		{"nothing", "store: {}\n", "F: processor.age_identities: at least one age identity file is required\n" +
			"F: processor.pseudonym_key: required: the pseudonymisation key file\n" +
			"F: tenants: at least one tenant is required"},
		{"valid", base, ""},
		{"sizes and durations", "gateway: {limits: {max_file_size: 1024, ban: 1h30m}}\n" + base, ""},
		{"bad duration", "gateway:\n  limits: {idle_timeout: 10, ban: -5m, handshake_timeout: [1]}\n" + base,
			`F:2: gateway.limits.idle_timeout: invalid duration "10": want e.g. 30s, 15m, 1h30m` + "\n" +
				`F:2: gateway.limits.ban: invalid duration "-5m": must not be negative` + "\n" +
				`F:2: gateway.limits.handshake_timeout: must be a duration such as 15m, not a list`},
		{"wrong types", "store: [local]\ngateway: {sftp: {host_keys: k}}\nprocessor: {min_cell: 2.5, pre_window_before_days: x}\nstore: {}\n",
			"F:1: store: must be a mapping, not a list\n" +
				`F:2: gateway.sftp.host_keys: must be a list, not "k"` + "\n" +
				`F:3: processor.age_identities: at least one age identity file is required` + "\n" +
				`F:3: processor.pseudonym_key: required: the pseudonymisation key file` + "\n" +
				`F:3: processor.min_cell: must be a whole number, not "2.5"` + "\n" +
				`F:3: processor.pre_window_before_days: must be a whole number, not "x"` + "\n" +
				`F:4: key "store" already given at line 1` + "\n" +
				"F: tenants: at least one tenant is required"},
		// Problems on one line come in the order of their columns; those
		// of a missing key are placed at the mapping that lacks it.
		{"bool", "store: {type: s3, s3: {secure: maybe}}\n" + base, "F:1: store.s3.endpoint: required when store.type is s3\n" +
			"F:1: store.s3.bucket: required when store.type is s3\n" +
			"F:1: store.s3.access_key_env: required when store.type is s3: the name of an environment variable\n" +
			"F:1: store.s3.secret_key_env: required when store.type is s3: the name of an environment variable\n" +
			`F:1: store.s3.secure: must be true or false, not "maybe"`},
		{"quoted number", "processor: {min_cell: \"10\", age_identities: [id.age], pseudonym_key: p.key}\ntenants: [{id: abc, datasets: [rom], organisations: [\"94012345\"]}]\n",
			`F:1: processor.min_cell: must be a whole number, not "10"`},
		{"unquoted AGB codes", "processor: {age_identities: [id.age], pseudonym_key: p.key}\ntenants: [{id: abc, datasets: [rom], organisations: [94012345, 03012345]}]\n", ""},
		{"merge", `tenants:
  - &acme
    id: vendor-acme
    datasets: [rom]
    organisations: &orgs ["94012345"]
  - <<: *acme
    id: vendor-acme-2
  - <<: [*acme]
    id: vendor-acme-3
    organisations: *orgs
    vsv: []
processor: {age_identities: [id.age], pseudonym_key: p.key}
`, `F:11: tenants[2]: unknown key "vsv" (did you mean "vsvs"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if c == nil || c.Path != path {
					t.Fatalf("Load: got config %v, want one with Path %s", c, path)
				}
				return
			}
			want := strings.ReplaceAll(tt.want, "F:", path+":")
			if err == nil {
				t.Fatalf("Load: got no error, want\n%s", want)
			}
			if c != nil {
				t.Errorf("Load: got a config with the error")
			}
			if got := err.Error(); got != want {
				t.Errorf("Load:\ngot\n%s\nwant\n%s", got, want)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Errorf("Load: got error of type %T, want Problems", err)
			}
		})
	}
}

func TestLoadMerge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttpgate.yaml")
	data := `tenants:
  - &acme
    id: vendor-acme
    datasets: [rom]
    organisations: ["94012345"]
  - <<: *acme
    id: vendor-acme-2
processor: {age_identities: [id.age], pseudonym_key: p.key}
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Tenant{
		{ID: "vendor-acme", Datasets: []string{"rom"}, Organisations: []string{"94012345"}},
		{ID: "vendor-acme-2", Datasets: []string{"rom"}, Organisations: []string{"94012345"}},
	}
	if !reflect.DeepEqual(c.Tenants, want) {
		t.Errorf("got tenants %+v, want %+v", c.Tenants, want)
	}
}

func TestLoadTooLarge(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		size int
		want string
	}{
		{MaxFileSize, "F: configuration is empty"},
		{MaxFileSize + 1, "read config F: file is larger than 1 MiB"},
		{2 * MaxFileSize, "read config F: file is larger than 1 MiB"},
	} {
		path := filepath.Join(dir, "big.yaml")
		// A comment line long enough to fill the file.
		data := "#" + strings.Repeat("x", tt.size-2) + "\n"
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		want := strings.ReplaceAll(tt.want, "F", path)
		if err == nil || err.Error() != want {
			t.Errorf("Load of %d bytes: got error %v, want %s", tt.size, err, want)
		}
	}
}

func TestLoadNotExist(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got error %v, want one that is fs.ErrNotExist", err)
	}
}

// TestLoadAliasExpansion: aliases that expand to millions of values are
// one problem, found quickly.
func TestLoadAliasExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &orgs [")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"94012345"`)
	}
	b.WriteString("]\ny: &t {id: vendor-acme, datasets: [rom], organisations: *orgs}\n")
	b.WriteString("tenants: [" + strings.Repeat("*t, ", 999) + "*t]\n")
	// The top-level x and y are unknown keys, which are reported too.
	path := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("got error %v, want Problems", err)
	}
	if n := len(ps); n > 3 {
		t.Errorf("got %d problems, want at most 3", n)
	}
	if !strings.Contains(err.Error(), "too many values") {
		t.Errorf("got %v, want a problem about too many values", err)
	}
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "ttpgate.yaml", Line: 23, Column: 7, Path: "tenants[1].organisations[0]", Msg: "AGB code must be 8 digits"},
			"ttpgate.yaml:23: tenants[1].organisations[0]: AGB code must be 8 digits"},
		{Problem{File: "ttpgate.yaml", Path: "tenants", Msg: "at least one tenant is required"},
			"ttpgate.yaml: tenants: at least one tenant is required"},
		{Problem{File: "ttpgate.yaml", Line: 3, Msg: `unknown key "x"`}, `ttpgate.yaml:3: unknown key "x"`},
		{Problem{Line: 3, Path: "store", Msg: "m"}, "line 3: store: m"},
		{Problem{Path: "store.type", Msg: "m"}, "store.type: m"},
		{Problem{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.p, got, tt.want)
		}
	}
	ps := Problems{tests[0].p, tests[1].p}
	if got, want := ps.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Problems.Error() = %q, want %q", got, want)
	}
}

func TestParseByteSize(t *testing.T) {
	const usage = ": want a whole number and an optional unit B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. 20GiB"
	tests := []struct {
		in      string
		want    ByteSize
		wantErr string
	}{
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"7B", 7, ""},
		{"1KB", 1000, ""},
		{"1KiB", 1024, ""},
		{"10MB", 10_000_000, ""},
		{"512MiB", 512 << 20, ""},
		{"3GB", 3_000_000_000, ""},
		{"20GiB", 20 << 30, ""},
		{"8TB", 8_000_000_000_000, ""},
		{"1TiB", 1 << 40, ""},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"8388607TiB", 8388607 << 40, ""},
		{"", 0, `invalid size ""` + usage},
		{"GiB", 0, `invalid size "GiB"` + usage},
		{"20 GB?", 0, `invalid size "20 GB?"` + usage},
		{"20 GiB", 0, `invalid size "20 GiB"` + usage},
		{"20gib", 0, `invalid size "20gib"` + usage},
		{"20Gb", 0, `invalid size "20Gb"` + usage},
		{"1.5GiB", 0, `invalid size "1.5GiB"` + usage},
		{"+5", 0, `invalid size "+5"` + usage},
		{"0x10", 0, `invalid size "0x10"` + usage},
		{"-1", 0, `invalid size "-1": must not be negative`},
		{"-5GiB", 0, `invalid size "-5GiB": must not be negative`},
		{"9223372036854775808", 0, `invalid size "9223372036854775808": too large`},
		{"8388608TiB", 0, `invalid size "8388608TiB": too large`},
		{"99999999999999999999999GB", 0, `invalid size "99999999999999999999999GB": too large`},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseByteSize(%q): %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
			t.Errorf("ParseByteSize(%q): got error %v, want %s", tt.in, err, tt.wantErr)
		case got != tt.want:
			t.Errorf("ParseByteSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1000, "1KB"},
		{1024, "1KiB"},
		{1500, "1500B"},
		{2048000, "2000KiB"},
		{10 * MB, "10MB"},
		{16 * MiB, "16MiB"},
		{20 * GiB, "20GiB"},
		{3 * GB, "3GB"},
		{TiB, "1TiB"},
		{2000 * TiB, "2000TiB"},
		{-3, "-3B"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		if back, err := ParseByteSize(tt.want); err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.want, back, err, tt.in)
		}
	}
}

func TestByteSizeYAML(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr string
	}{
		{"size: 1024", 1024, ""},
		{`size: "1024"`, 1024, ""},
		{"size: 20GiB", 20 * GiB, ""},
		{"size: '512MiB'", 512 * MiB, ""},
		{"size: -1", 0, `invalid size "-1": must not be negative`},
		{"size: [1]", 0, "must be a size such as 20GiB, not a list"},
		{"size: {a: 1}", 0, "must be a size such as 20GiB, not a mapping"},
	}
	for _, tt := range tests {
		var v struct{ Size ByteSize }
		err := yaml.Unmarshal([]byte(tt.in), &v)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
			t.Errorf("%s: got error %v, want %s", tt.in, err, tt.wantErr)
		case v.Size != tt.want:
			t.Errorf("%s: got %d, want %d", tt.in, v.Size, tt.want)
		}
	}
	out, err := yaml.Marshal(struct{ Size ByteSize }{20 * GiB})
	if err != nil || string(out) != "size: 20GiB\n" {
		t.Errorf("yaml.Marshal: got %q, %v; want %q", out, err, "size: 20GiB\n")
	}
}

func TestDurationYAML(t *testing.T) {
	tests := []struct {
		in      string
		want    Duration
		wantErr string
	}{
		{"d: 15m", Duration(15 * time.Minute), ""},
		{"d: 1h30m", Duration(90 * time.Minute), ""},
		{`d: "30s"`, Duration(30 * time.Second), ""},
		{"d: 0", 0, ""},
		{"d: 0s", 0, ""},
		{"d: 1.5h", Duration(90 * time.Minute), ""},
		{"d: -5m", 0, `invalid duration "-5m": must not be negative`},
		{"d: 15", 0, `invalid duration "15": want e.g. 30s, 15m, 1h30m`},
		{"d: fifteen", 0, `invalid duration "fifteen": want e.g. 30s, 15m, 1h30m`},
		{`d: ""`, 0, `invalid duration "": want e.g. 30s, 15m, 1h30m`},
		{"d: [15m]", 0, "must be a duration such as 15m, not a list"},
	}
	for _, tt := range tests {
		var v struct{ D Duration }
		err := yaml.Unmarshal([]byte(tt.in), &v)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
			t.Errorf("%s: got error %v, want %s", tt.in, err, tt.wantErr)
		case v.D != tt.want:
			t.Errorf("%s: got %v, want %v", tt.in, v.D, tt.want)
		}
	}
	for _, tt := range []struct {
		d    Duration
		want string
	}{
		{Duration(15 * time.Minute), "15m0s"},
		{Duration(90 * time.Minute), "1h30m0s"},
		{0, "0s"},
	} {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("Duration(%d).String() = %q, want %q", int64(tt.d), got, tt.want)
		}
	}
}

func TestApplyDefaults(t *testing.T) {
	var c Config
	c.ApplyDefaults()
	want := Config{
		Store: Store{Type: "local", Path: "store", S3: S3Store{Secure: ptr(true), PartSize: 16 * MiB}},
		Gateway: Gateway{
			S3:    S3{Region: "eu-west-1", MultipartExpiry: Duration(24 * time.Hour)},
			Admin: Admin{Listen: "127.0.0.1:9464"},
			Limits: Limits{
				MaxFileSize:           20 * GiB,
				MaxSessionsPerTenant:  16,
				AuthFailuresBeforeBan: 10,
				Ban:                   Duration(15 * time.Minute),
				HandshakeTimeout:      Duration(30 * time.Second),
				IdleTimeout:           Duration(10 * time.Minute),
			},
		},
		Processor: Processor{
			MinCell:          10,
			PreWindowBefore:  ptr(90),
			PreWindowAfter:   ptr(21),
			PostWindowBefore: ptr(42),
			PostWindowAfter:  ptr(21),
			ClaimTimeout:     Duration(time.Hour),
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ApplyDefaults on an empty Config:\ngot\n%s\nwant\n%s", dump(t, &c), dump(t, &want))
	}

	// Values that are set stay, a window of 0 days and secure: false too.
	set := Config{
		Store: Store{Type: "s3", Path: "/srv/store", S3: S3Store{Region: "nl-ams", Secure: ptr(false), PartSize: 64 * MiB}},
		Gateway: Gateway{
			S3:    S3{Region: "nl-ams", MultipartExpiry: Duration(2 * time.Minute)},
			Admin: Admin{Listen: "127.0.0.1:19464"},
			Limits: Limits{
				MaxFileSize:           GiB,
				MaxSessionsPerTenant:  2,
				AuthFailuresBeforeBan: 3,
				Ban:                   Duration(time.Hour),
				HandshakeTimeout:      Duration(time.Second),
				IdleTimeout:           Duration(time.Minute),
			},
		},
		Processor: Processor{
			MinCell:          5,
			PreWindowBefore:  ptr(0),
			PreWindowAfter:   ptr(1),
			PostWindowBefore: ptr(2),
			PostWindowAfter:  ptr(3),
			ClaimTimeout:     Duration(time.Minute),
		},
	}
	got := set
	got.ApplyDefaults()
	if !reflect.DeepEqual(got, set) {
		t.Errorf("ApplyDefaults changed set values:\ngot\n%s\nwant\n%s", dump(t, &got), dump(t, &set))
	}
}
