package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
	"github.com/ttpgate/ttpgate/processor"
	"github.com/ttpgate/ttpgate/schemas"
)

// s3E2EAccessKey is the S3 access key id of the fixture's tenant.
const s3E2EAccessKey = "TTPLVR1FIX01"

// startS3Tenant starts an S3 endpoint on st (as startS3On does) whose only
// tenant is tenant, with access key s3E2EAccessKey.
func startS3Tenant(t *testing.T, st store.Store, tenant config.Tenant) *s3gw {
	t.Helper()
	tenant.S3AccessKey = s3E2EAccessKey
	return startS3On(t, st, "", func(su *s3Setup) { su.Tenants = []config.Tenant{tenant} })
}

// TestS3E2ELVR1 is the whole flow over S3 as a sender lives it: the
// hand-checked lvr1-basic extracts encrypted with the age CLI, uploaded
// with the AWS CLI, processed, the feedback reports read back with the AWS
// CLI; reports and ig_indicators outputs must hold the fixture's figures.
func TestS3E2ELVR1(t *testing.T) { testS3E2ELVR1(t, nil) }

// TestS3E2ELVR1S3Store is TestS3E2ELVR1 with the S3 store on MinIO.
func TestS3E2ELVR1S3Store(t *testing.T) { testS3E2ELVR1(t, minioStore(t)) }

// testS3E2ELVR1 runs the flow on st (a local store when nil).
func testS3E2ELVR1(t *testing.T, st store.Store) {
	cli := s3cliAWS(t)
	ageCLI := testenv.Tool(t, "age", "apt-get install -y age")
	keygen := testenv.Tool(t, "age-keygen", "apt-get install -y age")
	fixture := filepath.Join(testenv.RepoRoot(t), "testdata", "fixtures", "lvr1-basic")

	var fx struct {
		Tenants []config.Tenant `yaml:"tenants"`
	}
	b, err := os.ReadFile(filepath.Join(fixture, "tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Tenants) != 1 || len(fx.Tenants[0].VSVs) == 0 || !slices.Equal(fx.Tenants[0].Datasets, []string{"lvr1"}) {
		t.Fatalf("fixture tenants %+v, want one lvr1 tenant with VSVs", fx.Tenants)
	}
	tenant := fx.Tenants[0]
	bucket := tenant.ID
	g := startS3Tenant(t, st, tenant)
	ak := s3E2EAccessKey
	env := []string{"AWS_ACCESS_KEY_ID=" + ak, "AWS_SECRET_ACCESS_KEY=" + DeriveS3Secret(g.secret, ak),
		"AWS_DEFAULT_REGION=" + s3TestRegion, "AWS_CA_BUNDLE=" + g.caFile, "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	aws := func(args ...string) string {
		t.Helper()
		out, err := s3cliRun(t, env, cli, append([]string{"--endpoint-url", g.url}, args...)...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	// The processor's key, made with the CLI.
	keyFile := filepath.Join(t.TempDir(), "processor.agekey")
	e2eRun(t, keygen, "-o", keyFile)
	recipient := strings.TrimSpace(e2eRun(t, keygen, "-y", keyFile))

	var metas []delivery.Meta
	for _, name := range []string{"delivery1.csv", "delivery2.csv"} {
		enc := filepath.Join(g.dir, name+".age")
		e2eRun(t, ageCLI, "-r", recipient, "-o", enc, filepath.Join(fixture, name))
		aws("s3", "cp", enc, "s3://"+bucket+"/upload/"+name+".age", "--no-progress")
		ds := g.deliveries(bucket)
		if len(ds) != len(metas)+1 {
			t.Fatalf("after uploading %s: %d deliveries, want %d", name, len(ds), len(metas)+1)
		}
		m := ds[len(ds)-1]
		ciphertext, err := os.ReadFile(enc)
		if err != nil {
			t.Fatal(err)
		}
		if m.FileName != name+".age" || m.SHA256 != upSHA256(ciphertext) || m.Format != "age" || m.Channel != delivery.ChannelS3 {
			t.Fatalf("delivery %+v, want %s.age over s3, format age, sha256 %s", m, name, upSHA256(ciphertext))
		}
		metas = append(metas, m)
	}

	e2eProcess(t, g.st, keyFile, tenant)

	// The sender lists its outbox and reads each report back.
	listing := aws("s3", "ls", "s3://"+bucket+"/outbox/")
	reports := map[string]processor.Report{}
	for _, m := range metas {
		if !strings.Contains(listing, m.ID+".json") {
			t.Errorf("aws s3 ls of the outbox does not list %s.json:\n%s", m.ID, listing)
			continue
		}
		out := aws("s3", "cp", "s3://"+bucket+"/outbox/"+m.ID+".json", "-")
		var r processor.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("report %s: %v: %q", m.ID, err, out)
		}
		if r.DeliveryID != m.ID || r.FileName != m.FileName || r.SHA256 != m.SHA256 || r.Dataset != "lvr1" {
			t.Errorf("report %s names delivery %s, file %s, sha256 %s, dataset %s; want %s %s %s lvr1",
				m.ID, r.DeliveryID, r.FileName, r.SHA256, r.Dataset, m.ID, m.FileName, m.SHA256)
		}
		reports[strings.TrimSuffix(m.FileName, ".age")] = r
	}
	e2eCompareReports(t, reports, filepath.Join(fixture, "expected", "reports.csv"))

	// The ig_indicators outputs of 2026 hold the hand-worked figures.
	rows, err := e2eReadParquet[schemas.IGIndicator](t, g.st, "out/dhd/ig_indicators/year=2026/part-00000.parquet")
	if err != nil {
		t.Fatal(err)
	}
	e2eCompareIndicators(t, rows, filepath.Join(fixture, "expected", "ig_indicators", "year=2026.csv"))
}

// e2eCompareIndicators compares every row and column of an ig_indicators
// partition with the expected CSV: exactly, decimals within 1e-9.
func e2eCompareIndicators(t *testing.T, rows []schemas.IGIndicator, expected string) {
	t.Helper()
	recs := e2eReadCSV(t, expected)
	i := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	cell := func(r schemas.IGIndicator, column string) (string, bool) {
		switch column {
		case "vsv":
			return r.VSV, true
		case "indicator_id":
			return r.IndicatorID, true
		case "indicator_name":
			return r.IndicatorName, true
		case "numerator":
			return i(r.Numerator), true
		case "denominator":
			return i(r.Denominator), true
		case "score":
			if r.Score == nil {
				return "", true
			}
			return strconv.FormatFloat(*r.Score, 'g', -1, 64), true
		case "unit":
			return r.Unit, true
		case "n_practices":
			return i(r.NPractices), true
		case "suppressed":
			return strconv.FormatBool(r.Suppressed), true
		}
		return "", false
	}
	if len(rows) != len(recs)-1 {
		t.Errorf("ig_indicators: %d rows, want %d", len(rows), len(recs)-1)
	}
	col := slices.Index(recs[0], "indicator_id")
	if recs[0][0] != "vsv" || col < 0 {
		t.Fatalf("%s: header %v, want vsv and indicator_id", expected, recs[0])
	}
	for _, exp := range recs[1:] {
		idx := slices.IndexFunc(rows, func(r schemas.IGIndicator) bool { return r.VSV == exp[0] && r.IndicatorID == exp[col] })
		if idx < 0 {
			t.Errorf("ig_indicators: no row %s %s", exp[0], exp[col])
			continue
		}
		for j, column := range recs[0] {
			got, ok := cell(rows[idx], column)
			if !ok {
				t.Errorf("ig_indicators: unknown expected column %q", column)
				continue
			}
			if !e2eCellEqual(got, exp[j]) {
				t.Errorf("ig_indicators %s %s: %s = %q, want %q", exp[0], exp[col], column, got, exp[j])
			}
		}
	}
}
