package schemas

import (
	"reflect"
	"strings"
	"testing"
)

// cc is an issue of row 2 in short: column and code.
type cc struct {
	col  string
	code Code
}

func issuesOf(sev Severity, list []cc) []Issue {
	var out []Issue
	for _, c := range list {
		out = append(out, Issue{Row: 2, Column: c.col, Code: c.code, Severity: sev})
	}
	return out
}

// fileOf writes a header and one row with ';': base with set applied.
func fileOf(header []string, base, set map[string]string) string {
	vals := make([]string, len(header))
	for i, h := range header {
		vals[i] = base[h]
		if v, ok := set[h]; ok {
			vals[i] = v
		}
	}
	return strings.Join(header, ";") + "\n" + strings.Join(vals, ";") + "\n"
}

var romBase = map[string]string{
	"bsn": "111222333", "client_id": "C01", "geboortejaar": "1980", "geslacht": "V", "agb_organisatie": "94012345",
	"traject_id": "T01", "traject_start": "2026-01-05", "traject_eind": "2026-06-30", "prestatie": "middel",
	"reden_einde": "regulier", "instrument": "OQ-45", "schaal": "totaal", "meetmoment": "voor",
	"meetdatum": "2026-01-10", "score": "72,5",
}

func TestReadROMRows(t *testing.T) {
	noMeasurement := map[string]string{"instrument": "", "schaal": "", "meetmoment": "", "meetdatum": "", "score": ""}
	with := func(m map[string]string, more map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	twoScales := []Instrument{
		{Code: "SCL-90", Scale: "angst", Min: 0, Max: 40},
		{Code: "SCL-90", Scale: "depressie", Min: 0, Max: 52},
		{Code: "OQ-45", Scale: "totaal", Min: 0, Max: 180},
		{Code: "OQ-45", Scale: "symptomen", Min: 0, Max: 100},
	}
	tests := []struct {
		name  string
		set   map[string]string
		instr []Instrument
		want  func(r *ROMRow) // applied to a copy of dialectRows[0]; nil: the row is invalid
		errs  []cc
		warns []cc
	}{
		{name: "valid", want: func(*ROMRow) {}},
		{name: "codes in other case", set: map[string]string{"geslacht": "x", "prestatie": "KORT", "reden_einde": "Voortijdig", "instrument": "oq-45", "schaal": "TOTAAL", "meetmoment": "Tussen"},
			want: func(r *ROMRow) {
				r.Geslacht, r.Prestatie, r.RedenEinde, r.Meetmoment = "X", "kort", "voortijdig", "tussen"
			}},
		{name: "values padded with spaces", set: map[string]string{"client_id": "  C01 ", "score": " 72.5\t", "agb_organisatie": " 94012345 "}, want: func(*ROMRow) {}},
		{name: "optional values empty", set: map[string]string{"bsn": "", "geboortejaar": "", "geslacht": "", "traject_eind": "", "prestatie": "", "reden_einde": ""},
			want: func(r *ROMRow) {
				*r = ROMRow{ClientID: "C01", AGB: "94012345", TrajectID: "T01", TrajectStart: r.TrajectStart, Instrument: "OQ-45", Schaal: "totaal", Meetmoment: "voor", Meetdatum: r.Meetdatum, Score: r.Score}
			}},
		{name: "no measurement, schaal ignored", set: with(noMeasurement, map[string]string{"schaal": "onzin"}),
			want: func(r *ROMRow) { r.Instrument, r.Schaal, r.Meetmoment, r.Meetdatum, r.Score = "", "", "", nil, nil }},
		{name: "64-character ids", set: map[string]string{"client_id": strings.Repeat("é", 64), "traject_id": strings.Repeat("x", 64)},
			want: func(r *ROMRow) { r.ClientID, r.TrajectID = strings.Repeat("é", 64), strings.Repeat("x", 64) }},
		{name: "geboortejaar bounds and excel integer", set: map[string]string{"geboortejaar": "2026,0"}, want: func(r *ROMRow) { r.Geboortejaar = 2026 }},
		{name: "geboortejaar 1900", set: map[string]string{"geboortejaar": "1900"}, want: func(r *ROMRow) { r.Geboortejaar = 1900 }},
		{name: "traject_eind on traject_start", set: map[string]string{"traject_eind": "05-01-2026"}, want: func(r *ROMRow) { r.TrajectEind = ptr(date(2026, 1, 5)) }},
		{name: "score at the bounds", set: map[string]string{"score": "180"}, want: func(r *ROMRow) { r.Score = ptr(180.0) }},
		{name: "score 0", set: map[string]string{"score": "-0,0"}, want: func(r *ROMRow) { r.Score = ptr(0.0) }},
		{name: "default scale 4DKL", set: map[string]string{"instrument": "4dkl", "schaal": "", "score": "32"},
			want: func(r *ROMRow) { r.Instrument, r.Schaal, r.Score = "4DKL", "distress", ptr(32.0) }},
		{name: "mean item score", set: map[string]string{"instrument": "BSI", "schaal": "", "score": "1,25"},
			want: func(r *ROMRow) { r.Instrument, r.Score = "BSI", ptr(1.25) }},
		{name: "default totaal among several scales", instr: twoScales, set: map[string]string{"schaal": ""}, want: func(*ROMRow) {}},
		{name: "another scale", instr: twoScales, set: map[string]string{"schaal": "Symptomen"}, want: func(r *ROMRow) { r.Schaal = "symptomen" }},

		{name: "bsn padded", set: map[string]string{"bsn": "12345672"}, want: func(r *ROMRow) { r.BSN = "012345672" }, warns: []cc{{"bsn", CodeBSNPadded}}},
		{name: "bsn elfproef", set: map[string]string{"bsn": "123456789"}, want: func(r *ROMRow) { r.BSN = "" }, warns: []cc{{"bsn", CodeBSNElfproef}}},
		{name: "bsn not digits", set: map[string]string{"bsn": "onbekend"}, want: func(r *ROMRow) { r.BSN = "" }, warns: []cc{{"bsn", CodeBSNElfproef}}},

		{name: "client_id missing", set: map[string]string{"client_id": " "}, errs: []cc{{"client_id", CodeMissingValue}}},
		{name: "client_id too long", set: map[string]string{"client_id": strings.Repeat("é", 65)}, errs: []cc{{"client_id", CodeTooLong}}},
		{name: "traject_id missing", set: map[string]string{"traject_id": ""}, errs: []cc{{"traject_id", CodeMissingValue}}},
		{name: "traject_id too long", set: map[string]string{"traject_id": strings.Repeat("x", 65)}, errs: []cc{{"traject_id", CodeTooLong}}},
		{name: "geboortejaar before 1900", set: map[string]string{"geboortejaar": "1899"}, errs: []cc{{"geboortejaar", CodeOutOfRange}}},
		{name: "geboortejaar in the future", set: map[string]string{"geboortejaar": "2027"}, errs: []cc{{"geboortejaar", CodeOutOfRange}}},
		{name: "geboortejaar not a number", set: map[string]string{"geboortejaar": "19x0"}, errs: []cc{{"geboortejaar", CodeInvalidNumber}}},
		{name: "geboortejaar with a fraction", set: map[string]string{"geboortejaar": "1980,5"}, errs: []cc{{"geboortejaar", CodeInvalidNumber}}},
		{name: "geslacht", set: map[string]string{"geslacht": "O"}, errs: []cc{{"geslacht", CodeInvalidCode}}},
		{name: "agb missing", set: map[string]string{"agb_organisatie": ""}, errs: []cc{{"agb_organisatie", CodeMissingValue}}},
		{name: "agb 7 digits", set: map[string]string{"agb_organisatie": "9401234"}, errs: []cc{{"agb_organisatie", CodeInvalidFormat}}},
		{name: "agb not digits", set: map[string]string{"agb_organisatie": "9401234A"}, errs: []cc{{"agb_organisatie", CodeInvalidFormat}}},
		{name: "traject_start missing", set: map[string]string{"traject_start": ""}, errs: []cc{{"traject_start", CodeMissingValue}}},
		{name: "traject_start 31-02", set: map[string]string{"traject_start": "31-02-2026"}, errs: []cc{{"traject_start", CodeInvalidDate}}},
		{name: "traject_eind invalid", set: map[string]string{"traject_eind": "2026-13-01"}, errs: []cc{{"traject_eind", CodeInvalidDate}}},
		{name: "traject_eind before traject_start", set: map[string]string{"traject_eind": "04-01-2026"}, errs: []cc{{"traject_eind", CodeDateOrder}}},
		{name: "prestatie", set: map[string]string{"prestatie": "lang"}, errs: []cc{{"prestatie", CodeInvalidCode}}},
		{name: "reden_einde", set: map[string]string{"reden_einde": "verhuisd"}, errs: []cc{{"reden_einde", CodeInvalidCode}}},
		{name: "instrument unknown", set: map[string]string{"instrument": "PHQ-9"}, errs: []cc{{"instrument", CodeInvalidCode}}},
		{name: "schaal unknown", set: map[string]string{"schaal": "angst"}, errs: []cc{{"schaal", CodeInvalidCode}}},
		{name: "schaal of another instrument", set: map[string]string{"instrument": "4DKL", "schaal": "totaal", "score": "3"}, errs: []cc{{"schaal", CodeInvalidCode}}},
		{name: "schaal needed", instr: twoScales, set: map[string]string{"instrument": "SCL-90", "schaal": ""}, errs: []cc{{"schaal", CodeMissingValue}}},
		{name: "meetmoment", set: map[string]string{"meetmoment": "eind"}, errs: []cc{{"meetmoment", CodeInvalidCode}}},
		{name: "meetdatum", set: map[string]string{"meetdatum": "1-1-26"}, errs: []cc{{"meetdatum", CodeInvalidDate}}},
		{name: "score above the range", set: map[string]string{"score": "180,01"}, errs: []cc{{"score", CodeOutOfRange}}},
		{name: "score below the range", set: map[string]string{"score": "-1"}, errs: []cc{{"score", CodeOutOfRange}}},
		{name: "score above a mean item range", set: map[string]string{"instrument": "BSI", "score": "4,5"}, errs: []cc{{"score", CodeOutOfRange}}},
		{name: "score below MANSA's range", set: map[string]string{"instrument": "MANSA", "score": "0,5"}, errs: []cc{{"score", CodeOutOfRange}}},
		{name: "score huge", set: map[string]string{"score": strings.Repeat("9", 400)}, errs: []cc{{"score", CodeOutOfRange}}},
		{name: "score not a number", set: map[string]string{"score": "hoog"}, errs: []cc{{"score", CodeInvalidNumber}}},
		{name: "score exponent", set: map[string]string{"score": "1e2"}, errs: []cc{{"score", CodeInvalidNumber}}},
		{name: "score NaN", set: map[string]string{"score": "NaN"}, errs: []cc{{"score", CodeInvalidNumber}}},
		{name: "score thousands separator", set: map[string]string{"score": "1.000,5"}, errs: []cc{{"score", CodeInvalidNumber}}},
		{name: "incomplete: score", set: map[string]string{"score": ""}, errs: []cc{{"score", CodeIncomplete}}},
		{name: "incomplete: instrument", set: map[string]string{"instrument": ""}, errs: []cc{{"instrument", CodeIncomplete}}},
		{name: "incomplete: only score", set: with(noMeasurement, map[string]string{"score": "12"}), errs: []cc{{"instrument", CodeIncomplete}}},
		{name: "incomplete: meetmoment and meetdatum", set: map[string]string{"meetmoment": "", "meetdatum": " "}, errs: []cc{{"meetmoment", CodeIncomplete}}},
		{name: "incomplete and invalid", set: map[string]string{"instrument": "PHQ-9", "meetdatum": "", "score": "x"},
			errs: []cc{{"instrument", CodeInvalidCode}, {"score", CodeInvalidNumber}, {"meetdatum", CodeIncomplete}}},
		{name: "value longer than 4096 bytes", set: map[string]string{"score": strings.Repeat("1", 4097), "schaal": strings.Repeat("x", 4097)},
			errs: []cc{{"schaal", CodeTooLong}, {"score", CodeTooLong}}},
		{name: "too long but present: not incomplete", set: with(noMeasurement, map[string]string{"score": strings.Repeat("1", 4097)}),
			errs: []cc{{"score", CodeTooLong}, {"instrument", CodeIncomplete}}},
		{name: "several errors, one per column", set: map[string]string{"bsn": "12345678", "client_id": "", "geboortejaar": "0", "traject_start": "2026-02-30", "traject_eind": "2026-01-01", "meetdatum": "gisteren", "score": "200"},
			errs:  []cc{{"client_id", CodeMissingValue}, {"geboortejaar", CodeOutOfRange}, {"traject_start", CodeInvalidDate}, {"meetdatum", CodeInvalidDate}, {"score", CodeOutOfRange}},
			warns: []cc{{"bsn", CodeBSNElfproef}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, rows, err := readAll(t, fileOf(romHeader, romBase, tt.set), Options{Instruments: tt.instr})
			if err != nil {
				t.Fatal(err)
			}
			if rd.Dataset() != ROM || len(rows) != 1 {
				t.Fatalf("got dataset %q and %d rows, want rom and 1", rd.Dataset(), len(rows))
			}
			row := rows[0]
			if got, want := row.Errors, issuesOf(SeverityError, tt.errs); !reflect.DeepEqual(got, want) {
				t.Errorf("got errors %v, want %v", got, want)
			}
			if got, want := row.Warnings, issuesOf(SeverityWarning, tt.warns); !reflect.DeepEqual(got, want) {
				t.Errorf("got warnings %v, want %v", got, want)
			}
			if row.LVR1 != nil {
				t.Errorf("got an LVR1 row")
			}
			if tt.want == nil {
				if row.ROM != nil {
					t.Errorf("got row %s, want none", show(row.ROM))
				}
				return
			}
			want := dialectRows[0]
			tt.want(&want)
			if row.ROM == nil || !reflect.DeepEqual(*row.ROM, want) {
				t.Errorf("\n got %s\nwant %s", show(row.ROM), show(want))
			}
		})
	}
}

func TestReadWrongFieldCount(t *testing.T) {
	head := "client_id;agb_organisatie;traject_id;traject_start;meetmoment\n"
	data := head + "C01;94012345;T01;2026-01-05\n" + "C02;94012345;T01;2026-01-05;;\n" + "C03;94012345;T01;2026-01-05;\n" + "C04\n"
	_, rows, err := readAll(t, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Line: 2, Errors: []Issue{{Row: 2, Code: CodeWrongFieldCount}}},
		{Line: 3, Errors: []Issue{{Row: 3, Code: CodeWrongFieldCount}}},
		{Line: 4, ROM: &ROMRow{ClientID: "C03", AGB: "94012345", TrajectID: "T01", TrajectStart: date(2026, 1, 5)}},
		{Line: 5, Errors: []Issue{{Row: 5, Code: CodeWrongFieldCount}}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("\n got %s\nwant %s", show(rows), show(want))
	}
}

func TestReadCurrentYear(t *testing.T) {
	data := fileOf(romHeader, romBase, map[string]string{"geboortejaar": "2030"})
	for _, tt := range []struct {
		year  int
		valid bool
	}{{2029, false}, {2030, true}, {2031, true}} {
		_, rows, err := readAll(t, data, Options{CurrentYear: tt.year})
		if err != nil || len(rows) != 1 {
			t.Fatalf("got %d rows, %v", len(rows), err)
		}
		if got := rows[0].ROM != nil; got != tt.valid {
			t.Errorf("geboortejaar 2030 with current year %d: got valid %v, want %v", tt.year, got, tt.valid)
		}
	}
}

// TestROMColumns keeps the column constants and the names in step.
func TestROMColumns(t *testing.T) {
	if len(romColumns) != len(romHeader) || romScore != len(romColumns)-1 {
		t.Fatalf("got %d columns, want %d", len(romColumns), len(romHeader))
	}
	for i, c := range romColumns {
		if c.name != romHeader[i] {
			t.Errorf("column %d: got %q, want %q", i, c.name, romHeader[i])
		}
	}
	var req []string
	for _, c := range romColumns {
		if c.required {
			req = append(req, c.name)
		}
	}
	if want := []string{"client_id", "agb_organisatie", "traject_id", "traject_start"}; !reflect.DeepEqual(req, want) {
		t.Errorf("got required %v, want %v", req, want)
	}
}
