package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// The key files of each component, by the names `ttpgate keygen` gives them.
var (
	gatewayKeys   = []string{"ssh_host_ed25519_key", "tls.key", "tls.crt", "s3.secret"}
	processorKeys = []string{"processor.agekey", "pseudonym.key", "openpgp.key"}
)

func deployDir(t *testing.T) string {
	return filepath.Join(testenv.RepoRoot(t), "deploy")
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unitSettings returns the settings of a unit file as key → values, in
// order ("Key=" gives an empty value).
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	s := map[string][]string{}
	for line := range strings.SplitSeq(string(read(t, path)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not a setting: %q", path, line)
		}
		s[k] = append(s[k], v)
	}
	return s
}

// TestSystemdUnits runs `systemd-analyze verify` on the units (as they are,
// and with each drop-in), requires a clean result, and holds the services'
// exposure, as `systemd-analyze security` rates it, to 1.5 or less.
func TestSystemdUnits(t *testing.T) {
	analyze := testenv.Tool(t, "systemd-analyze", "apt-get install -y systemd")
	src := filepath.Join(deployDir(t), "systemd")

	// verify needs the ExecStart binary to exist: build ttpgate and point
	// the units at it.
	bin := filepath.Join(t.TempDir(), "ttpgate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ttpgate")
	build.Dir = testenv.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	units := []string{"ttpgate-gateway.service", "ttpgate-process.service", "ttpgate-process.timer"}
	install := func(t *testing.T, dropins ...string) string {
		dir := t.TempDir()
		for _, u := range units {
			b := bytes.ReplaceAll(read(t, filepath.Join(src, u)), []byte("/usr/local/bin/ttpgate"), []byte(bin))
			if err := os.WriteFile(filepath.Join(dir, u), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(u, ".service") {
				continue
			}
			for _, d := range dropins {
				if err := os.MkdirAll(filepath.Join(dir, u+".d"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, u+".d", d), read(t, filepath.Join(src, d)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name    string
		dropins []string
	}{
		{"units", nil},
		{"with copy-credentials.conf", []string{"copy-credentials.conf"}},
		{"with local-store.conf", []string{"local-store.conf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := install(t, tc.dropins...)
			args := []string{"verify", "--man=no"}
			for _, u := range units {
				args = append(args, filepath.Join(dir, u))
			}
			cmd := exec.Command(analyze, args...)
			out, err := cmd.CombinedOutput()
			// verify only warns (exit 0) about unknown settings: any output
			// is a problem.
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
		})
	}

	exposure := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	dir := install(t)
	for _, u := range units[:2] {
		t.Run("security "+u, func(t *testing.T) {
			cmd := exec.Command(analyze, "security", "--offline=true", "--threshold=15", "--no-pager", filepath.Join(dir, u))
			out, err := cmd.CombinedOutput()
			m := exposure.FindSubmatch(out)
			if m == nil {
				t.Fatalf("systemd-analyze security: no exposure level in its output (%v):\n%s", err, out)
			}
			t.Logf("%s: exposure %s", u, m[1])
			if err != nil {
				t.Errorf("%s: exposure %s is above 1.5:\n%s", u, m[1], out)
			}
		})
	}
}

// TestSystemdHardening pins the settings the units' safety rests on, and
// that each unit is given only its own keys.
func TestSystemdHardening(t *testing.T) {
	src := filepath.Join(deployDir(t), "systemd")
	want := map[string]string{
		"DynamicUser": "yes", "UMask": "0077", "NoNewPrivileges": "yes",
		"CapabilityBoundingSet": "", "AmbientCapabilities": "",
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
		"ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "LockPersonality": "yes",
		"MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native", "RestrictSUIDSGID": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6",
	}
	users := map[string]bool{}
	for unit, keys := range map[string][]string{
		"ttpgate-gateway.service": gatewayKeys,
		"ttpgate-process.service": processorKeys,
	} {
		s := unitSettings(t, filepath.Join(src, unit))
		for k, v := range want {
			if got := s[k]; len(got) == 0 || got[len(got)-1] != v {
				t.Errorf("%s: %s=%v, want %s=%s", unit, k, got, k, v)
			}
		}
		if !slices.Contains(s["SystemCallFilter"], "@system-service") {
			t.Errorf("%s: no SystemCallFilter=@system-service", unit)
		}
		if users[s["User"][0]] {
			t.Errorf("%s: User=%s is shared with the other unit", unit, s["User"][0])
		}
		users[s["User"][0]] = true
		if len(s["LoadCredential"]) == 0 {
			t.Errorf("%s: no LoadCredential", unit)
		}
		for _, c := range s["LoadCredential"] {
			id, _, _ := strings.Cut(c, ":")
			if id != "ttpgate.yaml" && !slices.Contains(keys, id) {
				t.Errorf("%s: LoadCredential %s is not a key of this unit", unit, id)
			}
		}
	}
}

// TestExampleConfigs loads every ttpgate.yaml in deploy/ as ttpgate does,
// and checks that the key files each names are the ones its deployment
// gives the component that reads them.
func TestExampleConfigs(t *testing.T) {
	dir := deployDir(t)
	tmp := t.TempDir()
	load := func(t *testing.T, name string, data []byte) *config.Config {
		t.Helper()
		path := filepath.Join(tmp, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, e := range []string{cfg.Store.S3.AccessKeyEnv, cfg.Store.S3.SecretKeyEnv} {
			if cfg.Store.Type == "s3" && !strings.HasPrefix(e, "TTPGATE_S3_") {
				t.Errorf("%s: S3 credentials from %q, want the TTPGATE_S3_ variables the deployment sets", name, e)
			}
		}
		return cfg
	}
	// files returns the base names of the gateway's and the processor's key files.
	files := func(cfg *config.Config) (gw, proc []string) {
		gw = append(gw, cfg.Gateway.SFTP.HostKeys...)
		gw = append(gw, cfg.Gateway.S3.TLSCert, cfg.Gateway.S3.TLSKey, cfg.Gateway.S3.CredentialSecret)
		proc = append(proc, cfg.Processor.AgeIdentities...)
		proc = append(proc, cfg.Processor.OpenPGPKeys...)
		proc = append(proc, cfg.Processor.PseudonymKey)
		base := func(ps []string) []string {
			var out []string
			for _, p := range ps {
				if p != "" {
					out = append(out, filepath.Base(p))
				}
			}
			slices.Sort(out)
			return out
		}
		return base(gw), base(proc)
	}
	given := func(t *testing.T, what string, got, want []string) {
		t.Helper()
		for _, f := range got {
			if !slices.Contains(want, f) {
				t.Errorf("%s: the configuration names %s, which the deployment does not give it (it gives %v)", what, f, want)
			}
		}
	}

	t.Run("systemd", func(t *testing.T) {
		cfg := load(t, "systemd/ttpgate.yaml", read(t, filepath.Join(dir, "systemd", "ttpgate.yaml")))
		gw, proc := files(cfg)
		creds := func(unit string) []string {
			var ids []string
			for _, c := range unitSettings(t, filepath.Join(dir, "systemd", unit))["LoadCredential"] {
				id, _, _ := strings.Cut(c, ":")
				ids = append(ids, id)
			}
			return ids
		}
		given(t, "ttpgate-gateway.service", gw, creds("ttpgate-gateway.service"))
		given(t, "ttpgate-process.service", proc, creds("ttpgate-process.service"))
	})

	t.Run("compose", func(t *testing.T) {
		cfg := load(t, "compose/ttpgate.yaml", read(t, filepath.Join(dir, "compose", "ttpgate.yaml")))
		gw, proc := files(cfg)
		c := composeFile(t)
		targets := func(service string) []string {
			var out []string
			for _, s := range c.Services[service].Secrets {
				out = append(out, s.Target)
			}
			return out
		}
		given(t, "compose service gateway", gw, targets("gateway"))
		given(t, "compose service processor", proc, targets("processor"))
	})

	t.Run("k8s", func(t *testing.T) {
		docs := k8sDocs(t)
		var cm string
		for _, d := range docs {
			if d["kind"] == "ConfigMap" {
				cm, _ = dig(d, "data", "ttpgate.yaml").(string)
			}
		}
		if cm == "" {
			t.Fatal("no ConfigMap with ttpgate.yaml in deploy/k8s")
		}
		cfg := load(t, "k8s ConfigMap ttpgate.yaml", []byte(cm))
		gw, proc := files(cfg)
		// The keys a workload's pod gets: the paths of its secret volume's items.
		items := func(kind string) []string {
			for _, d := range docs {
				if d["kind"] != kind {
					continue
				}
				spec := dig(d, "spec", "template", "spec")
				if kind == "CronJob" {
					spec = dig(d, "spec", "jobTemplate", "spec", "template", "spec")
				}
				var out []string
				vols, _ := dig(spec, "volumes").([]any)
				for _, v := range vols {
					its, _ := dig(v, "secret", "items").([]any)
					for _, it := range its {
						out = append(out, fmt.Sprint(dig(it, "path")))
					}
				}
				return out
			}
			t.Fatalf("no %s in deploy/k8s", kind)
			return nil
		}
		given(t, "k8s gateway Deployment", gw, items("Deployment"))
		given(t, "k8s processor CronJob", proc, items("CronJob"))
	})
}

// dig returns the value at the path of map keys in v, or nil.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func k8sDocs(t *testing.T) []map[string]any {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(deployDir(t), "k8s", "*.yaml"))
	var docs []map[string]any
	for _, p := range paths {
		dec := yaml.NewDecoder(bytes.NewReader(read(t, p)))
		for {
			var d map[string]any
			err := dec.Decode(&d)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if d != nil {
				docs = append(docs, d)
			}
		}
	}
	return docs
}

// compose is the part of the compose file format these tests look at.
type compose struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Configs  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"configs"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       map[string]string `yaml:"build"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	User        string            `yaml:"user"`
	DependsOn   map[string]any    `yaml:"depends_on"`
	Environment map[string]string `yaml:"environment"`
	Configs     []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"configs"`
	Secrets []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"secrets"`
	Ports           []string       `yaml:"ports"`
	Volumes         []string       `yaml:"volumes"`
	ReadOnly        bool           `yaml:"read_only"`
	Tmpfs           []string       `yaml:"tmpfs"`
	CapDrop         []string       `yaml:"cap_drop"`
	SecurityOpt     []string       `yaml:"security_opt"`
	Healthcheck     map[string]any `yaml:"healthcheck"`
	StopGracePeriod string         `yaml:"stop_grace_period"`
	MemLimit        string         `yaml:"mem_limit"`
	PidsLimit       int            `yaml:"pids_limit"`
	Restart         string         `yaml:"restart"`
}

// composeFile decodes deploy/compose/compose.yaml, refusing keys this test
// does not know (a typo in a key compose would ignore is caught too).
func composeFile(t *testing.T) compose {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(read(t, filepath.Join(deployDir(t), "compose", "compose.yaml"))))
	dec.KnownFields(true)
	var c compose
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// envRef matches a value that only refers to a variable: ${NAME},
// ${NAME:-default}, ${NAME:?message}.
var envRef = regexp.MustCompile(`^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$`)

// TestCompose checks deploy/compose/compose.yaml for what keeps it safe:
// ttpgate runs as a non-root user on a read-only root file system without
// capabilities, ports are published on loopback only, no secret is written
// in the file, and each service gets only its own keys.
func TestCompose(t *testing.T) {
	c := composeFile(t)
	dir := filepath.Join(deployDir(t), "compose")
	for _, name := range []string{"minio", "minio-init", "gateway", "processor"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is not published on 127.0.0.1 only", name, p)
			}
		}
		if !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: cap_drop must hold ALL", name)
		}
		if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: security_opt must hold no-new-privileges:true", name)
		}
		for k, v := range s.Environment {
			secretish := strings.Contains(k, "SECRET") || strings.Contains(k, "PASSWORD") || strings.Contains(k, "KEY")
			if secretish && !envRef.MatchString(v) {
				t.Errorf("%s: environment %s is a literal; take it from .env as ${%s}", name, k, k)
			}
		}
		if s.User == "" || s.User == "0" || strings.HasPrefix(s.User, "0:") || strings.HasPrefix(s.User, "root") {
			t.Errorf("%s: user %q: must run as a non-root user", name, s.User)
		}
		if !s.ReadOnly {
			t.Errorf("%s: read_only must be true", name)
		}
		if strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("%s: image %s is not pinned", name, s.Image)
		}
		for _, cf := range s.Configs {
			if _, ok := c.Configs[cf.Source]; !ok {
				t.Errorf("%s: config %s is not defined", name, cf.Source)
			}
		}
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec.Source]; !ok {
				t.Errorf("%s: secret %s is not defined", name, sec.Source)
			}
		}
	}
	for name, keys := range map[string][]string{"gateway": gatewayKeys, "processor": processorKeys} {
		s := c.Services[name]
		if !strings.Contains(s.User, "65532") {
			t.Errorf("%s: user %q: the default must be the image's nonroot user 65532", name, s.User)
		}
		if len(s.Secrets) == 0 {
			t.Errorf("%s: no keys given", name)
		}
		for _, sec := range s.Secrets {
			if !slices.Contains(keys, sec.Target) {
				t.Errorf("%s: is given %s, which is not one of its keys", name, sec.Target)
			}
			if f := c.Secrets[sec.Source].File; filepath.Base(f) != sec.Target {
				t.Errorf("%s: secret %s comes from %s, want keys/%s as keygen names it", name, sec.Source, f, sec.Target)
			}
		}
	}
	for name, cf := range c.Configs {
		if strings.HasPrefix(cf.File, "./minio/") {
			continue // made by the operator, as compose.yaml says
		}
		if _, err := os.Stat(filepath.Join(dir, cf.File)); err != nil {
			t.Errorf("config %s: %v", name, err)
		}
	}

	// When the compose plugin is there, let compose itself check the file.
	if docker, err := exec.LookPath("docker"); err == nil && exec.Command(docker, "compose", "version").Run() == nil {
		env := filepath.Join(t.TempDir(), ".env")
		example := read(t, filepath.Join(dir, ".env.example"))
		if err := os.WriteFile(env, example, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(docker, "compose", "--env-file", env, "-f", filepath.Join(dir, "compose.yaml"), "config", "--quiet")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("docker compose config: %v\n%s", err, out)
		}
	} else {
		t.Log("docker compose is not installed: compose.yaml checked by this test only")
	}
}

// TestDockerfile checks the image's build: static, trimmed, and a final
// stage without a shell that runs as a non-root user.
func TestDockerfile(t *testing.T) {
	root := testenv.RepoRoot(t)
	df := string(read(t, filepath.Join(root, "deploy", "docker", "Dockerfile")))
	var stages [][]string // instructions per stage
	for line := range strings.SplitSeq(strings.ReplaceAll(df, "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, found %d stage(s)", len(stages))
	}
	build := strings.Join(stages[0], "\n")
	for _, want := range []string{"FROM golang:", "CGO_ENABLED=0", "-trimpath", "./cmd/ttpgate"} {
		if !strings.Contains(build, want) {
			t.Errorf("build stage: no %q", want)
		}
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final[0], "FROM gcr.io/distroless/static") || !strings.Contains(final[0], ":nonroot") || strings.Contains(final[0], "debug") {
		t.Errorf("final stage %q: want gcr.io/distroless/static…:nonroot (no shell)", final[0])
	}
	user := ""
	for _, in := range final {
		if u, ok := strings.CutPrefix(in, "USER "); ok {
			user = u
		}
		if strings.HasPrefix(in, "ENTRYPOINT ") && !strings.HasPrefix(in, "ENTRYPOINT [") {
			t.Errorf("final stage: %q: use the exec form", in)
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("final stage: USER %q, want a non-root user", user)
	}

	ignore := string(read(t, filepath.Join(root, ".dockerignore")))
	for _, want := range []string{".git", "**/keys", "**/*.key", "**/*.agekey", "**/*.secret", "**/ttpgate-data"} {
		if !slices.Contains(strings.Split(ignore, "\n"), want) {
			t.Errorf(".dockerignore: no line %q", want)
		}
	}
}

// policy is an AWS policy document.
type policy struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal,omitempty"`
	Action    stringList                `json:"Action"`
	Resource  stringList                `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// stringList is a policy field that is a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = []string{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*l = ss
	return nil
}

func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(read(t, path)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON value", filepath.Base(path))
	}
}

func loadPolicy(t *testing.T, name string) policy {
	t.Helper()
	var p policy
	decodeStrict(t, filepath.Join(deployDir(t), "aws", name), &p)
	if p.Version != "2012-10-17" {
		t.Errorf("%s: Version %q, want 2012-10-17", name, p.Version)
	}
	sids := map[string]bool{}
	for _, s := range p.Statement {
		if s.Sid == "" || sids[s.Sid] {
			t.Errorf("%s: statement Sid %q empty or repeated", name, s.Sid)
		}
		sids[s.Sid] = true
		if s.Effect != "Allow" && s.Effect != "Deny" {
			t.Errorf("%s: %s: Effect %q", name, s.Sid, s.Effect)
		}
		if len(s.Action) == 0 || len(s.Resource) == 0 {
			t.Errorf("%s: %s: Action and Resource are required", name, s.Sid)
		}
	}
	return p
}

const (
	bucketARN = "arn:aws:s3:::example-ttpgate-store"
	kmsKeyARN = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// allowed returns the object key patterns (after the bucket) that p allows
// action on.
func allowed(p policy, action string) []string {
	var out []string
	for _, s := range p.Statement {
		if s.Effect != "Allow" || !slices.Contains(s.Action, action) {
			continue
		}
		for _, r := range s.Resource {
			if k, ok := strings.CutPrefix(r, bucketARN+"/"); ok {
				out = append(out, k)
			}
		}
	}
	return out
}

// TestAWSPolicies checks the IAM, bucket and KMS key policies: valid, and
// granting each component only the parts of the store it uses.
func TestAWSPolicies(t *testing.T) {
	for _, name := range []string{"iam-gateway-policy.json", "iam-processor-policy.json", "iam-operator-policy.json"} {
		p := loadPolicy(t, name)
		for _, s := range p.Statement {
			if s.Effect != "Allow" {
				t.Errorf("%s: %s: an IAM policy here only allows", name, s.Sid)
			}
			for _, a := range s.Action {
				if !strings.HasPrefix(a, "s3:") || strings.Contains(a, "*") {
					t.Errorf("%s: %s: action %q: name S3 actions one by one", name, s.Sid, a)
				}
			}
			for _, r := range s.Resource {
				if r != bucketARN && !strings.HasPrefix(r, bucketARN+"/") || r == bucketARN+"/*" {
					t.Errorf("%s: %s: resource %q: want the bucket or a prefix in it", name, s.Sid, r)
				}
			}
		}
		// Without s3:ListBucket a missing key reads as AccessDenied, not
		// NotFound, and the store could not tell them apart.
		if !slices.ContainsFunc(p.Statement, func(s statement) bool {
			return slices.Contains(s.Action, "s3:ListBucket") && slices.Contains(s.Resource, bucketARN) && s.Condition == nil
		}) {
			t.Errorf("%s: s3:ListBucket on the bucket, without conditions, is required", name)
		}
	}

	gw := loadPolicy(t, "iam-gateway-policy.json")
	proc := loadPolicy(t, "iam-processor-policy.json")
	under := func(patterns []string, prefixes ...string) []string {
		var out []string
		for _, p := range patterns {
			for _, pre := range prefixes {
				if strings.HasPrefix(p, pre) {
					out = append(out, p)
				}
			}
		}
		return out
	}
	for _, a := range []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} {
		if got := under(allowed(gw, a), "staging/", "ledger/", "out/", "locks/"); len(got) > 0 {
			t.Errorf("gateway: %s on %v: the gateway has no business with processing state", a, got)
		}
	}
	// HeadObject of an upload, on any gateway instance, reads the
	// delivery's meta.json: that, and never the data, is allowed.
	if !slices.Contains(allowed(gw, "s3:GetObject"), "landed/*/meta.json") {
		t.Error("gateway: no s3:GetObject on landed/*/meta.json: HeadObject of an upload would fail on other instances")
	}
	got := slices.DeleteFunc(under(allowed(gw, "s3:GetObject"), "landed/"), func(k string) bool { return k == "landed/*/meta.json" })
	if len(got) > 0 {
		t.Errorf("gateway: s3:GetObject on %v: the gateway never reads a delivery back", got)
	}
	for _, a := range []string{"s3:PutObject", "s3:DeleteObject"} {
		if got := under(allowed(proc, a), "landed/", "multipart/"); len(got) > 0 {
			t.Errorf("processor: %s on %v: the processor must not make or remove deliveries", a, got)
		}
	}
	for _, want := range []string{"landed/*", "ledger/*", "staging/*", "out/*"} {
		if !slices.Contains(allowed(proc, "s3:GetObject"), want) {
			t.Errorf("processor: no s3:GetObject on %s", want)
		}
	}
	for _, want := range []string{"landed/*", "multipart/*"} {
		if !slices.Contains(allowed(gw, "s3:PutObject"), want) {
			t.Errorf("gateway: no s3:PutObject on %s", want)
		}
	}

	bp := loadPolicy(t, "bucket-policy.json")
	var tls, principals, kmsKey bool
	for _, s := range bp.Statement {
		if s.Effect != "Deny" || s.Principal != "*" {
			t.Errorf("bucket-policy.json: %s: want Deny for Principal *", s.Sid)
		}
		if v, ok := s.Condition["Bool"]["aws:SecureTransport"]; ok && v == "false" && slices.Contains(s.Resource, bucketARN) && slices.Contains(s.Resource, bucketARN+"/*") {
			tls = true
		}
		if arns, ok := s.Condition["ArnNotLike"]["aws:PrincipalArn"].([]any); ok {
			principals = true
			for _, u := range []string{"ttpgate-gateway", "ttpgate-processor", "ttpgate-operator"} {
				if !slices.Contains(arns, any("arn:aws:iam::111122223333:user/"+u)) {
					t.Errorf("bucket-policy.json: %s lets %s through: the IAM users must match iam-*-policy.json", s.Sid, u)
				}
			}
		}
		if v, ok := s.Condition["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"]; ok && v == kmsKeyARN {
			kmsKey = true
		}
	}
	if !tls || !principals || !kmsKey {
		t.Errorf("bucket-policy.json: want a deny of requests without TLS (%v), of principals other than ttpgate's (%v), and of other KMS keys (%v)", tls, principals, kmsKey)
	}

	kp := loadPolicy(t, "kms-key-policy.json")
	for _, s := range kp.Statement {
		if slices.Contains(s.Action, "kms:Decrypt") && s.Condition["StringEquals"]["kms:ViaService"] == nil {
			t.Errorf("kms-key-policy.json: %s: key use must be limited to S3 (kms:ViaService)", s.Sid)
		}
	}

	var enc struct {
		Rules []struct {
			ApplyServerSideEncryptionByDefault struct {
				SSEAlgorithm   string
				KMSMasterKeyID string
			}
			BucketKeyEnabled bool
		}
	}
	decodeStrict(t, filepath.Join(deployDir(t), "aws", "encryption.json"), &enc)
	if len(enc.Rules) != 1 || enc.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != "aws:kms" ||
		enc.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID != kmsKeyARN {
		t.Errorf("encryption.json: want SSE-KMS with the key the bucket policy names (%s)", kmsKeyARN)
	}
}

// lifecycle is the S3 lifecycle configuration format.
type lifecycle struct {
	Rules []struct {
		ID     string
		Filter struct {
			Prefix *string
		}
		Status     string
		Expiration *struct {
			Days                      int  `json:",omitempty"`
			ExpiredObjectDeleteMarker bool `json:",omitempty"`
		}
		NoncurrentVersionExpiration *struct {
			NoncurrentDays int
		}
		AbortIncompleteMultipartUpload *struct {
			DaysAfterInitiation int
		}
	}
}

// TestLifecycle checks the retention rules: landed/ and outbox/ expire,
// staging/, ledger/ and out/ never do (the processor rebuilds the outputs
// from them), multipart uploads and old versions are cleaned up.
func TestLifecycle(t *testing.T) {
	var lc lifecycle
	decodeStrict(t, filepath.Join(deployDir(t), "aws", "lifecycle.json"), &lc)
	expires := map[string]int{}
	var abort, noncurrent bool
	for _, r := range lc.Rules {
		if r.Status != "Enabled" || r.Filter.Prefix == nil {
			t.Errorf("rule %s: want Status Enabled and a Filter with a Prefix", r.ID)
			continue
		}
		prefix := *r.Filter.Prefix
		if r.Expiration != nil && r.Expiration.Days > 0 {
			expires[prefix] = r.Expiration.Days
			if !slices.Contains([]string{"landed/", "outbox/", "multipart/"}, prefix) {
				t.Errorf("rule %s expires %q: only landed/, outbox/ and multipart/ may expire; staging/, ledger/ and out/ are needed to rebuild the outputs", r.ID, prefix)
			}
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil && prefix == "" && a.DaysAfterInitiation <= 1 {
			abort = true
		}
		if n := r.NoncurrentVersionExpiration; n != nil && prefix == "" && n.NoncurrentDays > 0 {
			noncurrent = true
		}
	}
	if expires["landed/"] == 0 {
		t.Error("no expiration of landed/")
	}
	// The gateway removes abandoned parts itself after multipart_expiry
	// (default 24h); the rule is only a backstop and must not come first.
	if d := expires["multipart/"]; d*24 <= 24 {
		t.Errorf("multipart/ expires after %d day(s): must be longer than gateway.s3.multipart_expiry (24h)", d)
	}
	if !abort || !noncurrent {
		t.Errorf("want bucket-wide rules aborting incomplete multipart uploads within a day (%v) and expiring noncurrent versions (%v)", abort, noncurrent)
	}
}

// TestAWSCLIValidates has the AWS CLI check the bucket settings against
// S3's own API model: it validates parameters before it sends anything, and
// here it sends to a closed port on loopback, so a valid file ends in
// "Could not connect" and an invalid one in "Parameter validation failed".
func TestAWSCLIValidates(t *testing.T) {
	aws := "/usr/bin/aws" // v2, as .ci/run installs it; PATH may hold a v1
	if _, err := os.Stat(aws); err != nil {
		aws = testenv.Tool(t, "aws", "apt-get install -y awscli")
	}
	dir := filepath.Join(deployDir(t), "aws")
	bad := filepath.Join(t.TempDir(), "bad-lifecycle.json")
	b := bytes.Replace(read(t, filepath.Join(dir, "lifecycle.json")), []byte(`"Status": "Enabled"`), []byte(`"Status": "Enabled", "Expire": {"Days": 1}`), 1)
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd, param, file string
		valid            bool
	}{
		{"put-bucket-lifecycle-configuration", "--lifecycle-configuration", filepath.Join(dir, "lifecycle.json"), true},
		{"put-bucket-encryption", "--server-side-encryption-configuration", filepath.Join(dir, "encryption.json"), true},
		{"put-public-access-block", "--public-access-block-configuration", filepath.Join(dir, "public-access-block.json"), true},
		{"put-bucket-versioning", "--versioning-configuration", filepath.Join(dir, "versioning.json"), true},
		{"put-bucket-lifecycle-configuration", "--lifecycle-configuration", bad, false},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(aws, "s3api", tc.cmd, "--bucket", "example-ttpgate-store", tc.param, "file://"+tc.file,
				"--endpoint-url", "http://127.0.0.1:9", "--cli-connect-timeout", "2")
			// Nothing of the machine's AWS setup may take part.
			env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
			cmd.Env = append(env, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=eu-central-1",
				"AWS_MAX_ATTEMPTS=1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
			out, _ := cmd.CombinedOutput()
			switch got := string(out); {
			case tc.valid && !strings.Contains(got, "Could not connect"):
				t.Errorf("aws s3api %s: the file is not valid:\n%s", tc.cmd, got)
			case !tc.valid && !strings.Contains(got, "Parameter validation failed"):
				t.Errorf("aws s3api %s with a broken file: want Parameter validation failed, got:\n%s", tc.cmd, got)
			}
		})
	}
}
