package processor

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"go.yaml.in/yaml/v3"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/testenv"
	"github.com/ttpgate/ttpgate/schemas"
)

// TestHandCheckedFixtures processes the hand-checked fixtures of
// testdata/fixtures (worked out by hand in their WORKING.md, reproduced by an
// independent Python script, never by this code) and compares every figure
// of every output partition and every report line with the expectation:
// exact for counts, codes and booleans, within 1e-9 for decimals.
func TestHandCheckedFixtures(t *testing.T) {
	root := filepath.Join(testenv.RepoRoot(t), "testdata", "fixtures")
	for _, fx := range []struct{ name, table1, table2 string }{
		{"rom-basic", "kibg/rom_outcomes", "kibg/rom_response"},
		{"lvr1-basic", "dhd/ig_indicators", "zin/ig_odb"},
	} {
		for _, mc := range []struct {
			minCell int
			dir     string
		}{{10, "expected"}, {1, "expected_min_cell_1"}} {
			t.Run(fmt.Sprintf("%s/min_cell=%d", fx.name, mc.minCell), func(t *testing.T) {
				dir := filepath.Join(root, fx.name)
				h := newHarness(t, fixtureTenants(t, dir)...)
				h.minCell = mc.minCell
				tenant := h.tenants[0].ID
				d1 := readFile(t, filepath.Join(dir, "delivery1.csv"))
				d2 := readFile(t, filepath.Join(dir, "delivery2.csv"))
				m1 := h.deliver(tenant, "delivery1.csv.age", h.encryptCLI(d1)) // as a sender does
				m2 := h.deliver(tenant, "delivery2.csv.age", h.encrypt(d2))
				h.run()
				for _, table := range []string{fx.table1, fx.table2} {
					compareTable(t, h, table, filepath.Join(dir, mc.dir, filepath.Base(table)))
				}
				if mc.minCell == 10 {
					compareReports(t, h, filepath.Join(dir, "expected", "reports.csv"),
						map[string]delivery.Meta{"delivery1.csv": m1, "delivery2.csv": m2})
				}
			})
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureTenants(t *testing.T, dir string) []config.Tenant {
	t.Helper()
	var f struct {
		Processor struct {
			MinCell int `yaml:"min_cell"`
		} `yaml:"processor"`
		Tenants []config.Tenant `yaml:"tenants"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(dir, "tenants.yaml")), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Tenants) != 1 {
		t.Fatalf("fixture has %d tenants, want 1", len(f.Tenants))
	}
	return f.Tenants
}

func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(readFile(t, name))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return recs
}

// compareTable compares every partition of an output table with the
// expected CSV files (one per partition, named after it).
func compareTable(t *testing.T, h *harness, table, expectedDir string) {
	t.Helper()
	entries, err := os.ReadDir(expectedDir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		want = append(want, "out/"+table+"/"+strings.TrimSuffix(e.Name(), ".csv")+"/"+partFile)
	}
	sort.Strings(want)
	if got := h.keys("out/" + table + "/"); !slices.Equal(got, want) {
		t.Fatalf("%s partitions = %v, want %v", table, got, want)
	}
	for _, e := range entries {
		key := "out/" + table + "/" + strings.TrimSuffix(e.Name(), ".csv") + "/" + partFile
		got := parquetCells(t, filepath.Join(h.dir, "store", filepath.FromSlash(key)))
		exp := readCSV(t, filepath.Join(expectedDir, e.Name()))
		if !slices.Equal(got[0], exp[0]) {
			t.Errorf("%s columns = %v\nwant %v", key, got[0], exp[0])
			continue
		}
		if len(got) != len(exp) {
			t.Errorf("%s: %d rows, want %d", key, len(got)-1, len(exp)-1)
		}
		for i := 1; i < min(len(got), len(exp)); i++ {
			for j, col := range exp[0] {
				if col == "Opmerking" || col == "Bron" {
					continue // free text, checked by the aggregation tests
				}
				if !cellEqual(got[i][j], exp[i][j]) {
					t.Errorf("%s row %d (%s) %s = %q, want %q", key, i, strings.Join(exp[i][:min(3, len(exp[i]))], " "), col, got[i][j], exp[i][j])
				}
			}
		}
	}
}

// cellEqual compares exactly, except decimals (a '.' in the expectation),
// which may differ by 1e-9 (relative to their size when larger than 1).
func cellEqual(got, want string) bool {
	if got == want {
		return true
	}
	if !strings.Contains(want, ".") {
		return false
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	return math.Abs(g-w) <= 1e-9*math.Max(1, math.Abs(w))
}

// parquetCells reads a Parquet file as text cells: a header row of column
// names, then one row per record (null = "", dates yyyy-mm-dd, floats in
// Go's shortest form).
func parquetCells(t *testing.T, name string) [][]string {
	t.Helper()
	b := readFile(t, name)
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var header []string
	var isDate []bool
	for _, leaf := range f.Schema().Fields() {
		header = append(header, leaf.Name())
		lt := leaf.Type().LogicalType()
		isDate = append(isDate, lt != nil && lt.String() == "DATE")
	}
	out := [][]string{header}
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				cells := make([]string, len(header))
				for _, v := range row {
					c := v.Column()
					switch {
					case v.IsNull():
					case isDate[c]:
						cells[c] = schemas.Date(v.Int32()).String()
					case v.Kind() == parquet.Boolean:
						cells[c] = strconv.FormatBool(v.Boolean())
					case v.Kind() == parquet.Double:
						cells[c] = strconv.FormatFloat(v.Double(), 'g', -1, 64)
					case v.Kind() == parquet.Int32:
						cells[c] = strconv.Itoa(int(v.Int32()))
					case v.Kind() == parquet.Int64:
						cells[c] = strconv.FormatInt(v.Int64(), 10)
					default:
						cells[c] = string(v.ByteArray())
					}
				}
				out = append(out, cells)
			}
			if err != nil {
				break
			}
		}
		rows.Close()
	}
	return out
}

// compareReports checks status, row counts and the exact set of errors and
// warnings of each delivery against reports.csv.
func compareReports(t *testing.T, h *harness, name string, metas map[string]delivery.Meta) {
	t.Helper()
	recs := readCSV(t, name)
	type summary struct{ status, total, accepted, rejected string }
	wantSum := map[string]summary{}
	wantIssues := map[string][]string{}
	for _, r := range recs[1:] {
		wantSum[r[0]] = summary{r[1], r[2], r[3], r[4]}
		if r[5] != "" {
			wantIssues[r[0]] = append(wantIssues[r[0]], strings.Join(r[5:9], " "))
		}
	}
	for file, m := range metas {
		rep := h.report(m)
		got := summary{rep.Status, fmt.Sprint(rep.RowsTotal), fmt.Sprint(rep.RowsAccepted), fmt.Sprint(rep.RowsRejected)}
		if got != wantSum[file] {
			t.Errorf("%s: status/total/accepted/rejected = %v, want %v", file, got, wantSum[file])
		}
		var issues []string
		for _, e := range rep.Errors {
			issues = append(issues, fmt.Sprintf("error %d %s %s", e.Row, e.Column, e.Code))
		}
		for _, w := range rep.Warnings {
			issues = append(issues, fmt.Sprintf("warning %d %s %s", w.Row, w.Column, w.Code))
		}
		sort.Strings(issues)
		want := wantIssues[file]
		sort.Strings(want)
		if !slices.Equal(issues, want) {
			t.Errorf("%s issues:\n got  %q\n want %q", file, issues, want)
		}
	}
}
