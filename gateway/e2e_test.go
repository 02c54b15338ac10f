package gateway

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/parquet-go/parquet-go"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
	"github.com/ttpgate/ttpgate/processor"
	"github.com/ttpgate/ttpgate/schemas"
)

// TestEndToEnd is the whole flow as its users live it: a vendor encrypts
// the hand-checked rom-basic fixture with the age CLI and uploads it with
// OpenSSH sftp; a processing run on the same store decrypts, validates,
// pseudonymises and aggregates; the vendor reads the feedback reports back
// from /outbox with sftp. Reports and outputs must hold the fixture's
// expected figures (worked out by hand, testdata/fixtures/rom-basic).
func TestEndToEnd(t *testing.T) { testEndToEnd(t, startGateway(t, nil)) }

// TestEndToEndS3Store is TestEndToEnd with the S3 store on MinIO.
func TestEndToEndS3Store(t *testing.T) {
	testEndToEnd(t, startGatewayOn(t, t.TempDir(), minioStore(t), nil))
}

func testEndToEnd(t *testing.T, g *gw) {
	ageCLI := testenv.Tool(t, "age", "apt-get install -y age")
	keygen := testenv.Tool(t, "age-keygen", "apt-get install -y age")
	fixture := filepath.Join(testenv.RepoRoot(t), "testdata", "fixtures", "rom-basic")

	// The processor's age key, made with the CLI; the gateway never sees it.
	keyDir := t.TempDir()
	keyFile := filepath.Join(keyDir, "processor.agekey")
	e2eRun(t, keygen, "-o", keyFile)
	recipient := strings.TrimSpace(e2eRun(t, keygen, "-y", keyFile))
	if !strings.HasPrefix(recipient, "age1") {
		t.Fatalf("age-keygen -y printed %q, want an age1… recipient", recipient)
	}

	// The vendor encrypts and uploads delivery1, then (later) delivery2.
	var metas []delivery.Meta
	for _, name := range []string{"delivery1.csv", "delivery2.csv"} {
		enc := filepath.Join(g.dir, name+".age")
		e2eRun(t, ageCLI, "-r", recipient, "-o", enc, filepath.Join(fixture, name))
		if _, stderr, code := g.sftp("acme", "put "+name+".age /upload/"+name+".age\n"); code != 0 {
			t.Fatalf("upload %s: sftp exit %d: %s", name, code, stderr)
		}
		ds := g.deliveries("acme")
		if len(ds) != len(metas)+1 {
			t.Fatalf("after uploading %s: %d deliveries, want %d", name, len(ds), len(metas)+1)
		}
		m := ds[len(ds)-1] // ids sort in arrival order
		ciphertext, err := os.ReadFile(enc)
		if err != nil {
			t.Fatal(err)
		}
		if m.FileName != name+".age" || m.SHA256 != upSHA256(ciphertext) || m.Format != "age" {
			t.Fatalf("delivery %+v, want %s.age, format age, sha256 %s", m, name, upSHA256(ciphertext))
		}
		metas = append(metas, m)
	}
	if metas[0].ID >= metas[1].ID {
		t.Fatalf("delivery ids %s, %s: want them in arrival order", metas[0].ID, metas[1].ID)
	}

	// One processing run, with the fixture's tenant configuration.
	e2eProcess(t, g.st, keyFile, config.Tenant{ID: "acme", Datasets: []string{"rom"},
		Organisations: []string{"94012345", "94054321", "94099999"}})

	// The vendor reads its reports back over SFTP.
	if err := os.Mkdir(filepath.Join(g.dir, "reports"), 0o700); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := g.sftp("acme", "ls /outbox\nget /outbox/*.json reports/\n")
	if code != 0 {
		t.Fatalf("sftp get of the reports: exit %d: %s\n%s", code, stderr, stdout)
	}
	reports := map[string]processor.Report{}
	for _, m := range metas {
		b, err := os.ReadFile(filepath.Join(g.dir, "reports", m.ID+".json"))
		if err != nil {
			t.Fatalf("report of %s (%s) not fetched: %v; ls /outbox printed:\n%s", m.FileName, m.ID, err, stdout)
		}
		var r processor.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("report %s: %v", m.ID, err)
		}
		if r.DeliveryID != m.ID || r.FileName != m.FileName || r.SHA256 != m.SHA256 || r.Dataset != "rom" {
			t.Errorf("report %s names delivery %s, file %s, sha256 %s, dataset %s; want %s %s %s rom",
				m.ID, r.DeliveryID, r.FileName, r.SHA256, r.Dataset, m.ID, m.FileName, m.SHA256)
		}
		reports[strings.TrimSuffix(m.FileName, ".age")] = r
	}
	e2eCompareReports(t, reports, filepath.Join(fixture, "expected", "reports.csv"))

	// The outputs hold the hand-worked figures.
	expDir := filepath.Join(fixture, "expected", "rom_outcomes")
	entries, err := os.ReadDir(expDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("no expected partitions in %s", expDir)
	}
	for _, e := range entries {
		partition := strings.TrimSuffix(e.Name(), ".csv")
		rows, err := e2eReadParquet[schemas.ROMOutcome](t, g.st, "out/kibg/rom_outcomes/"+partition+"/part-00000.parquet")
		if err != nil {
			t.Errorf("rom_outcomes %s: %v", partition, err)
			continue
		}
		e2eCompareOutcomes(t, partition, rows, filepath.Join(expDir, e.Name()))
	}
	if logs := g.logs.String(); strings.Contains(logs, "CL1001") {
		t.Error("the gateway's log holds a client number of the extract")
	}
}

// e2eRun runs a command and returns its standard output.
func e2eRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// e2eReadParquet reads the rows of a Parquet output from the store.
func e2eReadParquet[T any](t *testing.T, st store.Store, key string) ([]T, error) {
	t.Helper()
	b, err := store.ReadAll(t.Context(), st, key, 64<<20)
	if err != nil {
		return nil, err
	}
	return parquet.Read[T](bytes.NewReader(b), int64(len(b)))
}

func e2eReadCSV(t *testing.T, name string) [][]string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return recs
}

// e2eCompareReports compares each report with expected/reports.csv: status,
// row counts, and every error and warning (kind, row, column, code).
func e2eCompareReports(t *testing.T, reports map[string]processor.Report, expected string) {
	t.Helper()
	recs := e2eReadCSV(t, expected)
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	type want struct {
		status                    string
		total, accepted, rejected int64
		issues                    []string
	}
	wants := map[string]*want{}
	for _, r := range recs[1:] {
		d := r[col["delivery"]]
		w := wants[d]
		if w == nil {
			total, _ := strconv.ParseInt(r[col["rows_total"]], 10, 64)
			acc, _ := strconv.ParseInt(r[col["rows_accepted"]], 10, 64)
			rej, _ := strconv.ParseInt(r[col["rows_rejected"]], 10, 64)
			w = &want{status: r[col["status"]], total: total, accepted: acc, rejected: rej}
			wants[d] = w
		}
		if r[col["kind"]] != "" {
			w.issues = append(w.issues, strings.Join([]string{r[col["kind"]], r[col["row"]], r[col["column"]], r[col["code"]]}, "/"))
		}
	}
	if len(wants) != len(reports) {
		t.Errorf("%d reports, want %d", len(reports), len(wants))
	}
	for d, w := range wants {
		r, ok := reports[d]
		if !ok {
			t.Errorf("no report for %s", d)
			continue
		}
		if r.Status != w.status || r.RowsTotal != w.total || r.RowsAccepted != w.accepted || r.RowsRejected != w.rejected {
			t.Errorf("report of %s: status %s, rows %d/%d/%d; want %s, %d/%d/%d (total/accepted/rejected)",
				d, r.Status, r.RowsTotal, r.RowsAccepted, r.RowsRejected, w.status, w.total, w.accepted, w.rejected)
		}
		var got []string
		for _, is := range r.Errors {
			got = append(got, fmt.Sprintf("error/%d/%s/%s", is.Row, is.Column, is.Code))
		}
		for _, is := range r.Warnings {
			got = append(got, fmt.Sprintf("warning/%d/%s/%s", is.Row, is.Column, is.Code))
		}
		slices.Sort(got)
		slices.Sort(w.issues)
		if !slices.Equal(got, w.issues) {
			t.Errorf("report of %s: issues %v, want %v", d, got, w.issues)
		}
	}
}

// e2eCompareOutcomes compares the rows of one rom_outcomes partition with
// the expected CSV: counts and flags exactly, decimals within 1e-9.
func e2eCompareOutcomes(t *testing.T, partition string, rows []schemas.ROMOutcome, expected string) {
	t.Helper()
	recs := e2eReadCSV(t, expected)
	cell := func(r schemas.ROMOutcome, column string) (string, bool) {
		i := func(p *int64) string {
			if p == nil {
				return ""
			}
			return strconv.FormatInt(*p, 10)
		}
		f := func(p *float64) string {
			if p == nil {
				return ""
			}
			return strconv.FormatFloat(*p, 'g', -1, 64)
		}
		switch column {
		case "organisation":
			return r.Organisation, true
		case "instrument":
			return r.Instrument, true
		case "scale":
			return r.Scale, true
		case "n_trajectories":
			return i(r.NTrajectories), true
		case "n_pairs":
			return i(r.NPairs), true
		case "mean_pre":
			return f(r.MeanPre), true
		case "mean_post":
			return f(r.MeanPost), true
		case "mean_improvement":
			return f(r.MeanImprovement), true
		case "ci95_low":
			return f(r.CI95Low), true
		case "ci95_high":
			return f(r.CI95High), true
		case "effect_size":
			return f(r.EffectSize), true
		case "pct_recovered":
			return f(r.PctRecovered), true
		case "pct_improved":
			return f(r.PctImproved), true
		case "pct_unchanged":
			return f(r.PctUnchanged), true
		case "pct_deteriorated":
			return f(r.PctDeteriorated), true
		case "params_provisional":
			return strconv.FormatBool(r.ParamsProvisional), true
		case "suppressed":
			return strconv.FormatBool(r.Suppressed), true
		}
		return "", false
	}
	if len(rows) != len(recs)-1 {
		t.Errorf("rom_outcomes %s: %d rows, want %d", partition, len(rows), len(recs)-1)
	}
	nl := 0
	for _, exp := range recs[1:] {
		idx := slices.IndexFunc(rows, func(r schemas.ROMOutcome) bool {
			return r.Organisation == exp[0] && r.Instrument == exp[1] && r.Scale == exp[2]
		})
		if idx < 0 {
			t.Errorf("rom_outcomes %s: no row %s %s %s", partition, exp[0], exp[1], exp[2])
			continue
		}
		if exp[0] == "NL" {
			nl++
		}
		for j, column := range recs[0] {
			got, ok := cell(rows[idx], column)
			if !ok {
				t.Errorf("rom_outcomes: unknown expected column %q", column)
				continue
			}
			if !e2eCellEqual(got, exp[j]) {
				t.Errorf("rom_outcomes %s %s %s %s: %s = %q, want %q", partition, exp[0], exp[1], exp[2], column, got, exp[j])
			}
		}
	}
	if nl == 0 {
		t.Errorf("rom_outcomes %s: the expectation has no NL row", partition)
	}
}

// e2eCellEqual compares exactly, except decimals (a '.' in the
// expectation), which may differ by 1e-9 (relative when larger than 1).
func e2eCellEqual(got, want string) bool {
	if got == want {
		return true
	}
	if !strings.Contains(want, ".") {
		return false
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	return err1 == nil && err2 == nil && math.Abs(g-w) <= 1e-9*math.Max(1, math.Abs(w))
}

// e2eProcess runs one processing run over st with the age identity in
// keyFile and the fixture's tenant, and checks its summary: two deliveries,
// one accepted and one accepted with warnings (both fixtures' outcome).
func e2eProcess(t *testing.T, st store.Store, keyFile string, tenant config.Tenant) {
	t.Helper()
	f, err := os.Open(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := crypto.NewPseudonymizer(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var plog testenv.SyncBuffer
	p, err := processor.New(processor.Options{
		Store: st, Tenants: []config.Tenant{tenant},
		Identities: ids, Pseudonymizer: ps, MinCell: 10, WorkDir: t.TempDir(), Version: "test",
		CurrentYear: 2026, Logger: slog.New(slog.NewJSONHandler(&plog, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := p.Run(t.Context())
	if err != nil {
		t.Fatalf("processing run: %v\n%s", err, plog.String())
	}
	if sum.Processed != 2 || sum.Accepted != 1 || sum.AcceptedWithWarnings != 1 || sum.Rejected != 0 {
		t.Errorf("run summary %+v, want 2 processed: 1 accepted, 1 with warnings", sum)
	}
}
