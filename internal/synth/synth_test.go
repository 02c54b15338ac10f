package synth

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// dataset bundles what the tests need of ROM and LVR1.
type dataset struct {
	name    string
	write   func(io.Writer, Options) error
	ids     func(Options, func(kind, value string)) error
	check   func(*table, []string, testDialect, int) []string
	columns []string // in spec order, as the spec spells them
	// idColumns maps identifier kinds to the column holding them.
	idColumns map[string]string
}

var datasets = []dataset{
	{
		name: "rom", write: WriteROM, ids: ROMIdentifiers, check: checkROM,
		columns: []string{"bsn", "client_id", "geboortejaar", "geslacht", "agb_organisatie",
			"traject_id", "traject_start", "traject_eind", "prestatie", "reden_einde", "instrument",
			"schaal", "meetmoment", "meetdatum", "score"},
		idColumns: map[string]string{"bsn": "bsn", "client_id": "client_id", "traject_id": "traject_id"},
	},
	{
		name: "lvr1", write: WriteLVR1, ids: LVR1Identifiers, check: checkLVR1,
		columns: []string{"bsn_moeder", "client_id", "geboortejaar_moeder", "postcode",
			"agb_praktijk", "vsv_code", "zwangerschap_id", "datum_eerste_consult",
			"ad_eerste_consult", "pariteit", "aantal_kinderen", "kindvolgnummer",
			"verantw_begin_baring", "overdracht", "wijze_begin_baring", "ligging", "type_partus",
			"plaats_baring", "datum_partus", "ad_partus", "geslacht_kind", "geboortegewicht",
			"apgar5", "perineum", "bloedverlies", "nicu_opname", "sterfte"},
		idColumns: map[string]string{"bsn_moeder": "bsn_moeder", "client_id": "client_id",
			"zwangerschap_id": "zwangerschap_id", "postcode": "postcode"},
	},
}

func generate(t testing.TB, ds dataset, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ds.write(&buf, o); err != nil {
		t.Fatalf("write %s %+v: %v", ds.name, o, err)
	}
	return buf.Bytes()
}

func TestParseDialect(t *testing.T) {
	for _, d := range Dialects() {
		got, err := ParseDialect(string(d))
		if err != nil || got != d {
			t.Errorf("ParseDialect(%q) = %q, %v; want %q", d, got, err, d)
		}
	}
	if _, err := ParseDialect("excel"); err == nil {
		t.Error("ParseDialect(excel): got no error")
	}
	if len(Dialects()) != len(testDialects) {
		t.Errorf("got %d dialects, the tests know %d", len(Dialects()), len(testDialects))
	}
}

func TestInvalidOptions(t *testing.T) {
	cases := map[string]Options{
		"negative rows":    {Rows: -1},
		"unknown dialect":  {Dialect: "csv"},
		"error rate > 1":   {ErrorRate: 1.5},
		"error rate < 0":   {ErrorRate: -0.1},
		"error rate NaN":   {ErrorRate: math.NaN()},
		"year too early":   {Year: 1900},
		"empty org":        {Organisations: []string{""}},
		"empty vsv":        {VSVs: []string{""}},
		"year far too far": {Year: 20000},
	}
	for name, o := range cases {
		for _, ds := range datasets {
			t.Run(name+"/"+ds.name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := ds.write(&buf, o); err == nil {
					t.Error("write: got no error")
				}
				if buf.Len() != 0 {
					t.Errorf("write: got %d bytes for invalid options, want none", buf.Len())
				}
				if err := ds.ids(o, func(string, string) {}); err == nil {
					t.Error("identifiers: got no error")
				}
			})
		}
	}
}

// TestHeaders spells out every header line byte for byte.
func TestHeaders(t *testing.T) {
	for _, ds := range datasets {
		for _, d := range Dialects() {
			t.Run(ds.name+"/"+string(d), func(t *testing.T) {
				td := dialectOf(t, d)
				cols := slices.Clone(ds.columns)
				if td.quoted {
					for i, c := range cols {
						cols[i] = `"` + c + `"`
					}
				}
				want := strings.Join(cols, string(td.sep))
				if td.bom {
					want = "\uFEFF" + want
				}
				if td.crlf {
					want += "\r\n"
				} else {
					want += "\n"
				}
				got := generate(t, ds, Options{Seed: 1, Dialect: d})
				if string(got) != want {
					t.Errorf("got header %q\nwant %q", got, want)
				}
			})
		}
	}
}

// TestGolden compares the first rows of a fixed seed in every dialect with
// testdata/<dataset>-<dialect>.golden (raw bytes: BOM, CRLF and Windows-1252
// included). Run with -update to rewrite them, and review the diff.
func TestGolden(t *testing.T) {
	for _, ds := range datasets {
		for _, d := range Dialects() {
			t.Run(ds.name+"/"+string(d), func(t *testing.T) {
				got := generate(t, ds, Options{Rows: 6, Seed: goldenSeed, Dialect: d})
				path := filepath.Join("testdata", ds.name+"-"+string(d)+".golden")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("output differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
				}
			})
		}
	}
}

// goldenSeed was chosen so that the first rows include a non-ASCII client
// number, which the windows-1252 golden files show encoded.
const goldenSeed = 15

func TestGoldenShowsNonASCII(t *testing.T) {
	for _, ds := range datasets {
		out := generate(t, ds, Options{Rows: 6, Seed: goldenSeed})
		if utf8.RuneCount(out) == len(out) {
			t.Errorf("%s: the golden rows of seed %d are all ASCII; pick another goldenSeed", ds.name, goldenSeed)
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, ds := range datasets {
		for _, d := range Dialects() {
			t.Run(ds.name+"/"+string(d), func(t *testing.T) {
				o := Options{Rows: 500, Seed: 7, Dialect: d, ErrorRate: 0.05}
				a, b := generate(t, ds, o), generate(t, ds, o)
				if !bytes.Equal(a, b) {
					t.Fatal("same options gave different bytes")
				}
				o.Seed = 8
				if c := generate(t, ds, o); bytes.Equal(a, c) {
					t.Fatal("seeds 7 and 8 gave the same bytes")
				}
			})
		}
	}
}

func TestRowCount(t *testing.T) {
	for _, ds := range datasets {
		for _, d := range Dialects() {
			for _, rows := range []int{0, 1, 2, 17, 1000} {
				t.Run(fmt.Sprintf("%s/%s/%d", ds.name, d, rows), func(t *testing.T) {
					td := dialectOf(t, d)
					out := generate(t, ds, Options{Rows: rows, Seed: 3, Dialect: d, ErrorRate: 0.1})
					eol := "\n"
					if td.crlf {
						eol = "\r\n"
					}
					if n := strings.Count(string(out), eol); n != rows+1 {
						t.Errorf("got %d lines, want %d (header and %d rows)", n, rows+1, rows)
					}
					if td.crlf && strings.Count(string(out), "\n") != rows+1 {
						t.Error("a line ends in a bare LF")
					}
					if !bytes.HasSuffix(out, []byte(eol)) {
						t.Error("last line is not terminated")
					}
					if tb := parse(t, out, td); len(tb.rows) != rows {
						t.Errorf("parsed %d records, want %d", len(tb.rows), rows)
					}
				})
			}
		}
	}
}

// TestValid checks every record against an independent reading of the spec:
// with ErrorRate 0 every row must be valid.
func TestValid(t *testing.T) {
	t.Parallel()
	for _, ds := range datasets {
		for _, d := range Dialects() {
			t.Run(ds.name+"/"+string(d), func(t *testing.T) {
				td := dialectOf(t, d)
				tb := parse(t, generate(t, ds, Options{Rows: 10000, Seed: 11, Dialect: d}), td)
				if !slices.Equal(tb.header, ds.columns) {
					t.Fatalf("got columns %v, want %v", tb.header, ds.columns)
				}
				bad := 0
				for i, row := range tb.rows {
					if errs := ds.check(tb, row, td, DefaultYear); len(errs) > 0 {
						if bad++; bad <= 5 {
							t.Errorf("row %d %q: %v", i+2, row, errs)
						}
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d rows invalid, want none", bad, len(tb.rows))
				}
			})
		}
	}
}

// TestErrorRate compares a file with errors to the same seed without: the
// rows that differ are exactly the invalid ones, each differs in one field
// and never in an identifier, and there are about ErrorRate of them.
func TestErrorRate(t *testing.T) {
	t.Parallel()
	const rows, rate = 20000, 0.1
	for _, ds := range datasets {
		for _, d := range []Dialect{Standard, Pipe, Windows1252} {
			t.Run(ds.name+"/"+string(d), func(t *testing.T) {
				td := dialectOf(t, d)
				clean := parse(t, generate(t, ds, Options{Rows: rows, Seed: 5, Dialect: d}), td)
				dirty := parse(t, generate(t, ds, Options{Rows: rows, Seed: 5, Dialect: d, ErrorRate: rate}), td)
				if len(dirty.rows) != rows {
					t.Fatalf("got %d rows, want %d", len(dirty.rows), rows)
				}
				corrupted := 0
				for i := range rows {
					c, r := clean.rows[i], dirty.rows[i]
					errs := ds.check(dirty, r, td, DefaultYear)
					if slices.Equal(c, r) {
						if len(errs) > 0 {
							t.Errorf("row %d unchanged but invalid: %v", i+2, errs)
						}
						continue
					}
					corrupted++
					if len(errs) == 0 {
						t.Errorf("row %d changed to %q but still valid", i+2, r)
					}
					var changed []string
					for j := range c {
						if c[j] != r[j] {
							changed = append(changed, dirty.header[j])
						}
					}
					if len(changed) != 1 {
						t.Errorf("row %d: changed %v, want one field", i+2, changed)
					}
					for _, col := range ds.idColumns {
						if slices.Contains(changed, col) {
							t.Errorf("row %d: identifier %s corrupted", i+2, col)
						}
					}
				}
				if got := float64(corrupted) / rows; math.Abs(got-rate) > 0.015 {
					t.Errorf("got %.3f of rows invalid, want about %.2f", got, rate)
				}
			})
		}
	}
}

// TestSameRecordsInEveryDialect: the dialect changes the bytes, not the
// values.
func TestSameRecordsInEveryDialect(t *testing.T) {
	t.Parallel()
	dateCols := map[string]bool{"traject_start": true, "traject_eind": true, "meetdatum": true,
		"datum_eerste_consult": true, "datum_partus": true}
	normalize := func(t *testing.T, tb *table, td testDialect) [][]string {
		var out [][]string
		for _, row := range tb.rows {
			row = slices.Clone(row)
			for j, v := range row {
				name := tb.header[j]
				switch {
				case v == "":
				case dateCols[name]:
					tm, err := time.Parse(td.layout, v)
					if err != nil {
						t.Fatalf("%s %q: %v", name, v, err)
					}
					row[j] = tm.Format(time.DateOnly)
				case name == "score" && td.comma:
					row[j] = strings.Replace(v, ",", ".", 1)
				}
			}
			out = append(out, row)
		}
		return out
	}
	for _, ds := range datasets {
		o := Options{Rows: 3000, Seed: 9}
		want := normalize(t, parse(t, generate(t, ds, o), dialectOf(t, Standard)), dialectOf(t, Standard))
		for _, d := range Dialects()[1:] {
			t.Run(ds.name+"/"+string(d), func(t *testing.T) {
				td := dialectOf(t, d)
				o.Dialect = d
				got := normalize(t, parse(t, generate(t, ds, o), td), td)
				for i := range want {
					if !slices.Equal(got[i], want[i]) {
						t.Fatalf("row %d: got %q, want %q", i+2, got[i], want[i])
					}
				}
			})
		}
	}
}

func TestWindows1252(t *testing.T) {
	for _, ds := range datasets {
		t.Run(ds.name, func(t *testing.T) {
			out := generate(t, ds, Options{Rows: 2000, Seed: 4, Dialect: Windows1252})
			if utf8.Valid(out) {
				t.Fatal("windows-1252 output is valid UTF-8; it should contain non-ASCII text")
			}
			dec, err := charmap.Windows1252.NewDecoder().Bytes(out)
			if err != nil {
				t.Fatal(err)
			}
			excel := generate(t, ds, Options{Rows: 2000, Seed: 4, Dialect: ExcelNL})
			if want := bytes.TrimPrefix(excel, []byte("\uFEFF")); !bytes.Equal(dec, want) {
				t.Error("decoded windows-1252 output differs from excel-nl without its BOM")
			}
			if !bytes.ContainsAny(dec, "úë") {
				t.Error("decoded output has no ú or ë")
			}
		})
	}
}

func TestBSN(t *testing.T) {
	t.Parallel()
	for _, ds := range datasets {
		t.Run(ds.name, func(t *testing.T) {
			td := dialectOf(t, Standard)
			tb := parse(t, generate(t, ds, Options{Rows: 20000, Seed: 12}), td)
			col := ds.columns[0]
			var present, eight, nineWithZero int
			for _, row := range tb.rows {
				v := tb.get(row, col)
				switch len(v) {
				case 0:
					continue
				case 8:
					eight++
				case 9:
					if v[0] == '0' {
						nineWithZero++
					}
				default:
					t.Fatalf("BSN %q has %d digits", v, len(v))
				}
				present++
				if !elfproef(fullBSN(v)) {
					t.Errorf("BSN %q fails the elfproef", v)
				}
			}
			share := float64(present) / float64(len(tb.rows))
			t.Logf("BSN present in %.1f%% of rows; %d written with 8 digits, %d 9-digit ones start with 0",
				100*share, eight, nineWithZero)
			want := map[string]float64{"rom": 0.80, "lvr1": 0.90}[ds.name]
			if math.Abs(share-want) > 0.05 {
				t.Errorf("BSN present in %.3f of rows, want about %.2f", share, want)
			}
			if eight == 0 || nineWithZero == 0 {
				t.Errorf("got %d 8-digit BSNs and %d 9-digit ones with a leading zero; want some of both", eight, nineWithZero)
			}
		})
	}
}

// TestIdentifiers: the visitor reports exactly the identifying values the
// file contains.
func TestIdentifiers(t *testing.T) {
	for _, ds := range datasets {
		for _, d := range []Dialect{Standard, Windows1252, Pipe} {
			t.Run(ds.name+"/"+string(d), func(t *testing.T) {
				td := dialectOf(t, d)
				o := Options{Rows: 3000, Seed: 13, Dialect: d, ErrorRate: 0.2,
					Organisations: []string{"11111111", "22222222", "33333333"}}
				tb := parse(t, generate(t, ds, o), td)
				inFile := map[string]map[string]bool{}
				for kind, col := range ds.idColumns {
					inFile[kind] = map[string]bool{}
					for _, row := range tb.rows {
						v := tb.get(row, col)
						switch {
						case v == "":
							continue
						case kind == "bsn" || kind == "bsn_moeder":
							v = fullBSN(v)
						case kind == "postcode":
							if len(v) == 4 {
								continue // not identifying beyond what is staged
							}
							v = strings.ReplaceAll(v, " ", "")
						}
						inFile[kind][v] = true
					}
				}
				visited := map[string]map[string]bool{}
				calls := 0
				err := ds.ids(o, func(kind, value string) {
					calls++
					if visited[kind] == nil {
						visited[kind] = map[string]bool{}
					}
					visited[kind][value] = true
				})
				if err != nil {
					t.Fatal(err)
				}
				for kind := range ds.idColumns {
					got, want := visited[kind], inFile[kind]
					if len(want) == 0 {
						t.Fatalf("no %s in the file", kind)
					}
					if !maps.Equal(got, want) {
						t.Errorf("%s: visited %d values, file has %d; visited but absent: %v; present but not visited: %v",
							kind, len(got), len(want), missing(got, want), missing(want, got))
					}
				}
				if len(visited) != len(ds.idColumns) {
					t.Errorf("visited kinds %v, want %v", slices.Sorted(maps.Keys(visited)), slices.Sorted(maps.Keys(ds.idColumns)))
				}
				t.Logf("%d calls", calls)
			})
		}
	}
}

// missing returns up to 5 keys of a that are not in b.
func missing(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] && len(out) < 5 {
			out = append(out, k)
		}
	}
	return out
}

// lineCounter counts bytes and line feeds, and keeps nothing.
type lineCounter struct{ bytes, lines int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.bytes += len(p)
	c.lines += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

func TestMillionROMRows(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes a million rows")
	}
	const rows = 1_000_000
	var c lineCounter
	start := time.Now()
	if err := WriteROM(&c, Options{Rows: rows, Seed: 1, Dialect: ExcelNL, ErrorRate: 0.01}); err != nil {
		t.Fatal(err)
	}
	if c.lines != rows+1 {
		t.Errorf("got %d lines, want %d", c.lines, rows+1)
	}
	t.Logf("%d rows, %d MB in %v", rows, c.bytes>>20, time.Since(start).Round(time.Millisecond))
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

var errDiskFull = fmt.Errorf("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	for _, ds := range datasets {
		err := ds.write(&failingWriter{n: 100_000}, Options{Rows: 100_000, Seed: 1})
		if err != errDiskFull {
			t.Errorf("%s: got %v, want %v", ds.name, err, errDiskFull)
		}
	}
}

func benchmarkWrite(b *testing.B, write func(io.Writer, Options) error, d Dialect) {
	const rows = 100_000
	n := 0
	for b.Loop() {
		if err := write(io.Discard, Options{Rows: rows, Seed: 1, Dialect: d}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*rows)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkWriteROM(b *testing.B) {
	for _, d := range Dialects() {
		b.Run(string(d), func(b *testing.B) { benchmarkWrite(b, WriteROM, d) })
	}
}

func BenchmarkWriteLVR1(b *testing.B) {
	for _, d := range Dialects() {
		b.Run(string(d), func(b *testing.B) { benchmarkWrite(b, WriteLVR1, d) })
	}
}
