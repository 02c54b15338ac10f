package processor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttpgate/ttpgate/internal/synth"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// duckdb runs SQL statements with DuckDB (node) and returns one result per
// statement as rows of JSON objects.
func duckdb(t *testing.T, sql ...string) [][]map[string]any {
	t.Helper()
	script := testenv.DuckDB(t)
	cmd := exec.Command("node", append([]string{script}, sql...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("duckdb: %v\n%s", err, errb.String())
	}
	var res [][]map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rows []map[string]any
		if err := json.Unmarshal([]byte(line), &rows); err != nil {
			t.Fatalf("duckdb output %q: %v", line, err)
		}
		res = append(res, rows)
	}
	return res
}

// TestOutputsReadByDuckDB reads every output table as analysts do, with
// read_parquet over the whole folder and hive partitioning, and checks the
// column types the spec asks for.
func TestOutputsReadByDuckDB(t *testing.T) {
	h := newHarness(t, romTenant("vendor", "94012345", "94054321"),
		lvr1Tenant("praktijk", []string{"03012345"}, []string{"VSV-UTR-01"}))
	var rom, lvr bytes.Buffer
	if err := synth.WriteROM(&rom, synth.Options{Rows: 4000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteLVR1(&lvr, synth.Options{Rows: 3000, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	h.deliver("vendor", "rom.csv.age", h.encryptCLI(rom.Bytes()))
	h.deliver("praktijk", "lvr1.csv.age", h.encryptCLI(lvr.Bytes()))
	h.run()

	root := filepath.Join(h.dir, "store")
	const (
		text = "VARCHAR"
		i64  = "BIGINT"
		f64  = "DOUBLE"
		b    = "BOOLEAN"
		date = "DATE"
		ts   = "TIMESTAMP"
	)
	tables := []struct {
		path string
		cols [][2]string
	}{
		{"out/kibg/rom_outcomes", [][2]string{{"organisation", text}, {"instrument", text}, {"scale", text},
			{"n_trajectories", i64}, {"n_pairs", i64}, {"mean_pre", f64}, {"mean_post", f64}, {"mean_improvement", f64},
			{"ci95_low", f64}, {"ci95_high", f64}, {"effect_size", f64}, {"pct_recovered", f64}, {"pct_improved", f64},
			{"pct_unchanged", f64}, {"pct_deteriorated", f64}, {"params_provisional", b}, {"suppressed", b}, {"period", text}}},
		{"out/kibg/rom_response", [][2]string{{"organisation", text}, {"prestatie", text}, {"n_trajectories", i64},
			{"n_completers", i64}, {"n_dropouts", i64}, {"n_nonstarters", i64}, {"n_nonresponders", i64},
			{"response_rate", f64}, {"suppressed", b}, {"period", text}}},
		{"out/dhd/ig_indicators", [][2]string{{"vsv", text}, {"indicator_id", text}, {"indicator_name", text},
			{"numerator", i64}, {"denominator", i64}, {"score", f64}, {"unit", text}, {"n_practices", i64},
			{"suppressed", b}, {"year", i64}}},
		{"out/zin/ig_odb", [][2]string{{"IndicatorsetNaam", text}, {"IndicatorsetCode", text}, {"Verslagjaar", i64},
			{"VSV", text}, {"IndicatorCode", text}, {"IndicatorNaam", text}, {"IndicatorEenheid", text},
			{"IndicatorWaarde", f64}, {"Teller", i64}, {"Noemer", i64}, {"Indicator_nb", b}, {"Opmerking", text},
			{"MeetperiodeBeginDatum", date}, {"MeetperiodeEindDatum", date}, {"Bron", text}, {"year", i64}}},
		{"out/ops/deliveries", [][2]string{{"delivery_id", text}, {"tenant", text}, {"channel", text},
			{"file_name", text}, {"received_at", ts}, {"size_bytes", i64}, {"sha256", text}, {"dataset", text},
			{"status", text}, {"rows_total", i64}, {"rows_accepted", i64}, {"rows_rejected", i64}, {"processed_at", ts}}},
	}
	var sql []string
	for _, tb := range tables {
		src := fmt.Sprintf("read_parquet('%s/%s/**/*.parquet', hive_partitioning = true)", root, tb.path)
		if tb.path == "out/ops/deliveries" {
			src = fmt.Sprintf("read_parquet('%s/%s/*.parquet')", root, tb.path)
		}
		sql = append(sql, "DESCRIBE SELECT * FROM "+src, "SELECT count(*) AS n FROM "+src)
	}
	sql = append(sql,
		fmt.Sprintf("SELECT DISTINCT period FROM read_parquet('%s/out/kibg/rom_outcomes/**/*.parquet', hive_partitioning = true) ORDER BY 1", root),
		fmt.Sprintf("SELECT strftime(received_at, '%%Y-%%m-%%d %%H:%%M:%%S') AS r FROM read_parquet('%s/out/ops/deliveries/*.parquet') ORDER BY 1", root),
		fmt.Sprintf("SELECT count(*) AS n FROM read_parquet('%s/out/zin/ig_odb/**/*.parquet', hive_partitioning = true) WHERE Verslagjaar <> year OR MeetperiodeBeginDatum <> make_date(year::INT, 1, 1) OR MeetperiodeEindDatum <> make_date(year::INT, 12, 31)", root),
	)
	res := duckdb(t, sql...)
	for i, tb := range tables {
		desc, count := res[2*i], res[2*i+1]
		if len(desc) != len(tb.cols) {
			t.Errorf("%s: %d columns, want %d: %v", tb.path, len(desc), len(tb.cols), desc)
			continue
		}
		for j, c := range tb.cols {
			if desc[j]["column_name"] != c[0] || desc[j]["column_type"] != c[1] {
				t.Errorf("%s column %d = %v %v, want %s %s", tb.path, j, desc[j]["column_name"], desc[j]["column_type"], c[0], c[1])
			}
		}
		if n := fmt.Sprint(count[0]["n"]); n == "0" {
			t.Errorf("%s: no rows", tb.path)
		}
	}
	tail := res[len(res)-3:]
	if got := fmt.Sprint(tail[0]); got != "[map[period:2025-H1] map[period:2025-H2] map[period:2026-H1] map[period:2026-H2]]" {
		t.Errorf("periods = %s", got)
	}
	// received_at reads back as the UTC time of the delivery (10:00:01 and 10:00:02 in the harness).
	if got := fmt.Sprint(tail[1]); got != "[map[r:2026-11-23 10:00:01] map[r:2026-11-23 10:00:02]]" {
		t.Errorf("received_at = %s", got)
	}
	if got := fmt.Sprint(tail[2][0]["n"]); got != "0" {
		t.Errorf("%s ZIN rows with a Verslagjaar or measurement period that does not match the partition year", got)
	}
}
