package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const testYear = 2026

// readAll reads data to the end. It returns the reader (nil when NewReader
// failed), every row, and the error that ended reading (nil at io.EOF).
func readAll(t *testing.T, data string, opts Options) (*Reader, []Row, error) {
	t.Helper()
	return readFrom(t, strings.NewReader(data), opts)
}

func readFrom(t *testing.T, src io.Reader, opts Options) (*Reader, []Row, error) {
	t.Helper()
	if opts.CurrentYear == 0 {
		opts.CurrentYear = testYear
	}
	rd, err := NewReader(src, opts)
	if err != nil {
		return nil, nil, err
	}
	var rows []Row
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatal("Next does not end")
		}
		row, err := rd.Next()
		if err == io.EOF {
			return rd, rows, nil
		}
		if err != nil {
			return rd, rows, err
		}
		rows = append(rows, row)
	}
}

// show formats v for a failure message, pointers followed.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }

func date(y, m, d int) Date { return DateOf(y, time.Month(m), d) }

var romHeader = []string{"bsn", "client_id", "geboortejaar", "geslacht", "agb_organisatie", "traject_id",
	"traject_start", "traject_eind", "prestatie", "reden_einde", "instrument", "schaal", "meetmoment",
	"meetdatum", "score"}

// The two rows every dialect below spells in its own way.
var dialectRows = []ROMRow{
	{BSN: "111222333", ClientID: "C01", Geboortejaar: 1980, Geslacht: "V", AGB: "94012345", TrajectID: "T01",
		TrajectStart: date(2026, 1, 5), TrajectEind: ptr(date(2026, 6, 30)), Prestatie: "middel", RedenEinde: "regulier",
		Instrument: "OQ-45", Schaal: "totaal", Meetmoment: "voor", Meetdatum: ptr(date(2026, 1, 10)), Score: ptr(72.5)},
	{ClientID: "C02", AGB: "94012345", TrajectID: "T02", TrajectStart: date(2026, 2, 1)},
}

func TestReadDialects(t *testing.T) {
	semicolon := "bsn;client_id;geboortejaar;geslacht;agb_organisatie;traject_id;traject_start;traject_eind;prestatie;reden_einde;instrument;schaal;meetmoment;meetdatum;score\n" +
		"111222333;C01;1980;v;94012345;T01;05-01-2026;30-06-2026;Middel;regulier;oq-45;;voor;10-01-2026;72,5\n" +
		";C02;;;94012345;T02;1-2-2026;;;;;;;;\n"
	comma := "BSN,Client_ID,geboortejaar,geslacht,agb_organisatie,traject_id,traject_start,traject_eind,prestatie,reden_einde,instrument,schaal,meetmoment,meetdatum,score\n" +
		"111222333,C01,1980,V,94012345,T01,2026-01-05,2026-06-30,middel,regulier,OQ-45,totaal,voor,2026-01-10,72.5\n" +
		",C02,,,94012345,T02,2026-02-01,,,,,,,,\n"
	tab := strings.ReplaceAll(comma, ",", "\t")
	pipe := strings.ReplaceAll(comma, ",", "|")
	// Columns in another order, quoted, padded with spaces, d/m/yyyy dates.
	quoted := `"score";" meetdatum ";meetmoment;schaal;instrument;reden_einde;prestatie;traject_eind;traject_start;traject_id;agb_organisatie;geslacht;geboortejaar;client_id;bsn` + "\n" +
		`"72,5";10/01/2026;voor;TOTAAL;"OQ-45";regulier;middel;30/6/2026;5/1/2026;" T01 ";94012345;V;1980,0;"C01";" 111222333 "` + "\n" +
		`;;;;;;;;01/02/2026;T02;94012345;;;C02;` + "\n"
	tests := []struct {
		name string
		data string
		sep  rune
	}{
		{"semicolon, decimal comma, dd-mm-yyyy", semicolon, ';'},
		{"utf-8 BOM", "\uFEFF" + semicolon, ';'},
		{"comma", comma, ','},
		{"tab", tab, '\t'},
		{"pipe", pipe, '|'},
		{"crlf", strings.ReplaceAll(semicolon, "\n", "\r\n"), ';'},
		{"crlf without final line end", strings.TrimSuffix(strings.ReplaceAll(comma, "\n", "\r\n"), "\r\n"), ','},
		{"quoted, reordered, padded", quoted, ';'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, enc := range []Encoding{EncodingAuto, EncodingWindows1252} {
				rd, rows, err := readAll(t, tt.data, Options{Encoding: enc})
				if err != nil {
					t.Fatalf("encoding %d: got error %v, want none", enc, err)
				}
				if rd.Dataset() != ROM {
					t.Errorf("got dataset %q, want rom", rd.Dataset())
				}
				if rd.Separator() != tt.sep {
					t.Errorf("got separator %q, want %q", rd.Separator(), tt.sep)
				}
				if w := rd.HeaderWarnings(); len(w) != 0 {
					t.Errorf("got header warnings %v, want none", w)
				}
				if len(rows) != len(dialectRows) {
					t.Fatalf("got %d rows, want %d", len(rows), len(dialectRows))
				}
				for i, row := range rows {
					if row.Line != i+2 || len(row.Errors) != 0 || len(row.Warnings) != 0 || row.LVR1 != nil {
						t.Errorf("row %d: got line %d, errors %v, warnings %v; want line %d and no issues", i, row.Line, row.Errors, row.Warnings, i+2)
					}
					if row.ROM == nil || !reflect.DeepEqual(*row.ROM, dialectRows[i]) {
						t.Errorf("row %d:\n got %s\nwant %s", i, show(row.ROM), show(dialectRows[i]))
					}
				}
			}
		})
	}
}

func TestReadWindows1252(t *testing.T) {
	data := "client_id;agb_organisatie;traject_id;traject_start;meetmoment;Opmerking\n" +
		"R\xe901;94012345;T01;2026-01-05;;caf\xe9\n"
	t.Run("auto", func(t *testing.T) {
		_, _, err := readAll(t, data, Options{})
		if !errors.Is(err, ErrNotUTF8) {
			t.Fatalf("got %v, want an error wrapping ErrNotUTF8", err)
		}
	})
	t.Run("auto, invalid byte in the header", func(t *testing.T) {
		_, _, err := readAll(t, "client_id;traject_id;meetmoment;opm\xe9rking\n", Options{})
		if !errors.Is(err, ErrNotUTF8) {
			t.Fatalf("got %v, want an error wrapping ErrNotUTF8", err)
		}
	})
	t.Run("windows-1252", func(t *testing.T) {
		rd, rows, err := readAll(t, data, Options{Encoding: EncodingWindows1252})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].ROM == nil {
			t.Fatalf("got %s, want one valid row", show(rows))
		}
		if got := rows[0].ROM.ClientID; got != "Ré01" {
			t.Errorf("got client_id %q, want %q", got, "Ré01")
		}
		want := []Issue{{Row: 1, Column: "Opmerking", Code: CodeUnknownColumn, Severity: SeverityWarning}}
		if got := rd.HeaderWarnings(); !reflect.DeepEqual(got, want) {
			t.Errorf("got header warnings %v, want %v", got, want)
		}
	})
	t.Run("windows-1252 with BOM", func(t *testing.T) {
		_, rows, err := readAll(t, "\xef\xbb\xbf"+data, Options{Encoding: EncodingWindows1252})
		if err != nil || len(rows) != 1 || rows[0].ROM == nil || rows[0].ROM.ClientID != "Ré01" {
			t.Fatalf("got %s, %v; want one row with client_id Ré01", show(rows), err)
		}
	})
	t.Run("windows-1252 is not latin-1", func(t *testing.T) {
		_, rows, err := readAll(t, "client_id;agb_organisatie;traject_id;traject_start;meetmoment\n"+
			"\x80\x93\x9f\xff;94012345;T01;2026-01-05;\n", Options{Encoding: EncodingWindows1252})
		if err != nil || len(rows) != 1 || rows[0].ROM == nil || rows[0].ROM.ClientID != "€“Ÿÿ" {
			t.Fatalf("got %s, %v; want one row with client_id €“Ÿÿ", show(rows), err)
		}
	})
	t.Run("every byte decodes", func(t *testing.T) {
		var all []byte
		for b := 0x80; b <= 0xff; b++ {
			if b != '"' {
				all = append(all, byte(b))
			}
		}
		_, rows, err := readAll(t, "client_id;agb_organisatie;traject_id;traject_start;meetmoment\n"+
			"X"+string(all[:60])+";94012345;T01;2026-01-05;\n", Options{Encoding: EncodingWindows1252})
		if err != nil || len(rows) != 1 || rows[0].ROM == nil {
			t.Fatalf("got %s, %v; want one valid row", show(rows), err)
		}
	})
}

func TestUTF8Reader(t *testing.T) {
	valid := "header;é;€;𝄞;ok\n" + strings.Repeat("aé€𝄞", 30000)
	tests := []struct {
		name    string
		src     func() io.Reader
		want    string
		wantErr error
	}{
		{"valid, one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(valid)) }, valid, nil},
		{"valid, half reads", func() io.Reader { return iotest.HalfReader(strings.NewReader(valid)) }, valid, nil},
		{"valid, data with EOF", func() io.Reader { return iotest.DataErrReader(strings.NewReader(valid)) }, valid, nil},
		{"BOM stripped", func() io.Reader { return iotest.OneByteReader(strings.NewReader("\uFEFF" + valid)) }, valid, nil},
		{"truncated sequence at EOF", func() io.Reader { return iotest.OneByteReader(strings.NewReader("ab\xe2\x82")) }, "", ErrNotUTF8},
		{"lone continuation byte", func() io.Reader { return iotest.OneByteReader(strings.NewReader("ab\x82cd")) }, "", ErrNotUTF8},
		{"overlong encoding", func() io.Reader { return strings.NewReader("ab\xc0\xafcd") }, "", ErrNotUTF8},
		{"surrogate", func() io.Reader { return strings.NewReader("ab\xed\xa0\x80") }, "", ErrNotUTF8},
		{"latin-1 late in a long file", func() io.Reader { return strings.NewReader(valid + "caf\xe9") }, "", ErrNotUTF8},
		{"read error inside a sequence", func() io.Reader {
			return io.MultiReader(strings.NewReader("ab\xe2\x82"), iotest.ErrReader(errBoom))
		}, "", errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(decode(tt.src(), EncodingAuto))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %d bytes, want %d bytes equal to the input", len(got), len(tt.want))
			}
		})
	}
}

var errBoom = errors.New("boom")

func TestReadSourceError(t *testing.T) {
	for _, enc := range []Encoding{EncodingAuto, EncodingWindows1252} {
		src := io.MultiReader(strings.NewReader("client_id;agb_organisatie;traject_id;traject_start;meetmoment\n"+
			"C01;94012345;T01;2026-01-05;\nC02;9401\xe2\x82"), iotest.ErrReader(errBoom))
		_, rows, err := readFrom(t, src, Options{Encoding: enc})
		if !errors.Is(err, errBoom) || len(rows) != 1 {
			t.Errorf("encoding %d: got %d rows and %v, want 1 row and the source's error", enc, len(rows), err)
		}
	}
}

// TestReadLines checks that blank lines, Excel's empty rows and quoted line
// breaks leave the line numbers of later rows right.
func TestReadLines(t *testing.T) {
	head := "client_id;agb_organisatie;traject_id;traject_start;meetmoment;opmerking\n"
	row := func(id string) string { return id + ";94012345;T01;2026-01-05;;\n" }
	tests := []struct {
		name      string
		data      string
		wantLines []int
		wantIDs   []string
		headLine  int
	}{
		{"plain", head + row("A") + row("B"), []int{2, 3}, []string{"A", "B"}, 1},
		{"blank lines", head + row("A") + "\n\n" + row("B") + "\r\n" + row("C"), []int{2, 5, 7}, []string{"A", "B", "C"}, 1},
		{"excel empty rows", head + row("A") + ";;;;;\n" + " ; ;\t;;;\n" + row("B"), []int{2, 5}, []string{"A", "B"}, 1},
		{"white space line", head + "   \n" + row("A"), []int{3}, []string{"A"}, 1},
		{"blank lines before the header", "\n;;;;;\n  \n" + head + row("A") + "\n" + row("B"), []int{5, 7}, []string{"A", "B"}, 4},
		// A line break inside a quoted free-text field; identifiers refuse control characters.
		{"quoted line break", head + `"A1";94012345;T01;2026-01-05;;"x` + "\r\n\r\n" + `y"` + "\n" + row("B"), []int{2, 5}, []string{"A1", "B"}, 1},
		{"doubled quotes and separators", head + `"A""1;2";94012345;T01;2026-01-05;;"a;b|c,d"` + "\n" + row("B"), []int{2, 3}, []string{`A"1;2`, "B"}, 1},
		{"no final line end", head + strings.TrimSuffix(row("A"), "\n"), []int{2}, []string{"A"}, 1},
		{"trailing blank lines", head + row("A") + "\n\n;;;;;\n", []int{2}, []string{"A"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, rows, err := readAll(t, tt.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			var ids []string
			for _, r := range rows {
				if len(r.Errors) > 0 {
					t.Fatalf("line %d: got errors %v", r.Line, r.Errors)
				}
				lines = append(lines, r.Line)
				ids = append(ids, r.ROM.ClientID)
			}
			if !reflect.DeepEqual(lines, tt.wantLines) || !reflect.DeepEqual(ids, tt.wantIDs) {
				t.Errorf("got lines %v client ids %q, want %v %q", lines, ids, tt.wantLines, tt.wantIDs)
			}
			want := []Issue{{Row: tt.headLine, Column: "opmerking", Code: CodeUnknownColumn, Severity: SeverityWarning}}
			if got := rd.HeaderWarnings(); !reflect.DeepEqual(got, want) {
				t.Errorf("got header warnings %v, want %v", got, want)
			}
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	romHead := strings.Join(romHeader, ";") + "\n"
	okRow := "111222333;C01;1980;V;94012345;T01;2026-01-05;;;;;;;;\n"
	many := make([]string, 65)
	for i := range many {
		many[i] = fmt.Sprintf("kolom%d", i)
	}
	many[0], many[1] = "traject_id", "meetmoment"
	tests := []struct {
		name     string
		data     string
		want     *FileError
		wantRows int // valid rows read before the error
	}{
		{"empty", "", &FileError{Reason: ReasonNotCSV}, 0},
		{"blank lines only", "\n\r\n;;;\n  \n", &FileError{Reason: ReasonNotCSV}, 0},
		{"BOM only", "\uFEFF", &FileError{Reason: ReasonNotCSV}, 0},
		{"unknown dataset", "a;b;c\n1;2;3\n", &FileError{Reason: ReasonUnknownDataset, Line: 1}, 0},
		{"no header", okRow + okRow, &FileError{Reason: ReasonUnknownDataset, Line: 1}, 0},
		{"only one key column", "traject_id;client_id\n", &FileError{Reason: ReasonUnknownDataset, Line: 1}, 0},
		{"both datasets", "traject_id;meetmoment;zwangerschap_id;type_partus\n", &FileError{Reason: ReasonUnknownDataset, Line: 1}, 0},
		{"missing rom columns", "schaal;traject_id;meetmoment;bsn\n", &FileError{Reason: ReasonMissingColumn, Columns: []string{"client_id", "agb_organisatie", "traject_start"}, Line: 1}, 0},
		{"missing lvr1 columns", "type_partus;zwangerschap_id;client_id;postcode\n", &FileError{Reason: ReasonMissingColumn,
			Columns: []string{"agb_praktijk", "vsv_code", "pariteit", "aantal_kinderen", "kindvolgnummer", "datum_partus", "ad_partus"}, Line: 1}, 0},
		{"missing column after blank lines", "\n\nclient_id;traject_id;meetmoment\n", &FileError{Reason: ReasonMissingColumn, Columns: []string{"agb_organisatie", "traject_start"}, Line: 3}, 0},
		{"duplicate column", "client_id;agb_organisatie;traject_id;traject_start;meetmoment;CLIENT_ID \n", &FileError{Reason: ReasonDuplicateColumn, Columns: []string{"client_id"}, Line: 1}, 0},
		{"too many columns", strings.Join(many, ";") + "\n", &FileError{Reason: ReasonTooManyColumns, Line: 1}, 0},
		{"bare quote in the header", "client_id;agb_\"organisatie;traject_id;traject_start;meetmoment\n", &FileError{Reason: ReasonNotCSV, Line: 1}, 0},
		{"bare quote", romHead + okRow + "111222333;C\"01;1980;V;94012345;T01;2026-01-05;;;;;;;;\n" + okRow, &FileError{Reason: ReasonNotCSV, Line: 3}, 1},
		{"space before a quote", romHead + okRow + "111222333; \"C01\";1980;V;94012345;T01;2026-01-05;;;;;;;;\n", &FileError{Reason: ReasonNotCSV, Line: 3}, 1},
		{"space after a quote", romHead + okRow + "111222333;\"C01\" ;1980;V;94012345;T01;2026-01-05;;;;;;;;\n", &FileError{Reason: ReasonNotCSV, Line: 3}, 1},
		{"text after a closing quote", romHead + okRow + okRow + "111222333;\"C01\"x;1980;V;94012345;T01;2026-01-05;;;;;;;;\n", &FileError{Reason: ReasonNotCSV, Line: 4}, 2},
		{"unterminated quote", romHead + okRow + "\n111222333;\"C01;1980;V;94012345;T01;2026-01-05;;;;;;;;\n" + okRow + okRow, &FileError{Reason: ReasonNotCSV, Line: 4}, 1},
		{"unterminated quote after blank lines before the header", "\n\n" + romHead + okRow + "\"C01\n", &FileError{Reason: ReasonNotCSV, Line: 5}, 1},
		{"line longer than 1 MiB", romHead + okRow + okRow + strings.Repeat("x", maxRecordBytes+1) + "\n" + okRow, &FileError{Reason: ReasonNotCSV, Line: 4}, 2},
		{"quoted record longer than 1 MiB", romHead + okRow + "\"" + strings.Repeat("x\n", maxRecordBytes/2+1), &FileError{Reason: ReasonNotCSV, Line: 3}, 1},
		{"header longer than 1 MiB", "client_id;" + strings.Repeat("x", maxRecordBytes) + "\n", &FileError{Reason: ReasonNotCSV, Line: 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rows, err := readAll(t, tt.data, Options{})
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(fe, tt.want) {
				t.Errorf("got %#v, want %#v", fe, tt.want)
			}
			valid := 0
			for _, r := range rows {
				if r.ROM != nil {
					valid++
				}
			}
			if valid != tt.wantRows || len(rows) != tt.wantRows {
				t.Errorf("got %d rows (%d valid) before the error, want %d valid", len(rows), valid, tt.wantRows)
			}
		})
	}
}

// TestReadStickyError checks that Next keeps returning the error that
// ended reading, and io.EOF after the end.
func TestReadStickyError(t *testing.T) {
	rd, err := NewReader(strings.NewReader("client_id;agb_organisatie;traject_id;traject_start;meetmoment\n\"x\"y\n"), Options{CurrentYear: testYear})
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := rd.Next()
	_, err2 := rd.Next()
	var fe *FileError
	if !errors.As(err1, &fe) || err1 != err2 {
		t.Errorf("got %v then %v, want the same not_csv error twice", err1, err2)
	}
	rd, err = NewReader(strings.NewReader("client_id;agb_organisatie;traject_id;traject_start;meetmoment\n"), Options{CurrentYear: testYear})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("got %v, want io.EOF", err)
		}
	}
}

func TestReadHeaderNames(t *testing.T) {
	data := "\uFEFF\"\uFEFFCLIENT_ID\";\"\"\"Agb_Organisatie\"\"\"; traject_id\t;\"Traject_Start\";MEETMOMENT;;Opmerking;" +
		strings.Repeat("é", 70) + "\n" +
		"C01;94012345;T01;2026-01-05;;;;\n"
	rd, rows, err := readAll(t, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ROM == nil {
		t.Fatalf("got %s, want one valid row", show(rows))
	}
	want := []Issue{
		{Row: 1, Column: "Opmerking", Code: CodeUnknownColumn, Severity: SeverityWarning},
		{Row: 1, Column: strings.Repeat("é", 64) + "…", Code: CodeUnknownColumn, Severity: SeverityWarning},
	}
	if got := rd.HeaderWarnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("got header warnings %v, want %v", got, want)
	}
}

func TestDetectSeparator(t *testing.T) {
	tests := []struct {
		head string
		want rune
	}{
		{"a;b;c", ';'},
		{"a,b,c", ','},
		{"a\tb\tc", '\t'},
		{"a|b|c", '|'},
		{"a;b,c", ';'},
		{"a\tb,c", '\t'},
		{"a|b,c", '|'},
		{"a\tb|c", '\t'},
		{"a;b|c|d", '|'},
		{"a,b,c;d", ','},
		{`"a;b;c",d,e`, ','},
		{`"a,b"";c";d`, ';'},
		{"abc", ';'},
		{"", ';'},
	}
	for _, tt := range tests {
		if got := detectSeparator([]byte(tt.head)); got != tt.want {
			t.Errorf("detectSeparator(%q): got %q, want %q", tt.head, got, tt.want)
		}
	}
}

// TestNoValuesInIssues formats every error and issue of a malformed file and
// checks that none of the file's identifying values appears.
func TestNoValuesInIssues(t *testing.T) {
	secrets := []string{"123456789", "12345678", "Jansen4711", "TRJ-GEHEIM-99", "1899", "31-02-2026", "94O12345",
		"181,5", "PHQ-99", "verlengd", "1012XY", "9999999", "3511 ZZZ", "VSV_GEHEIM", "ZW-GEHEIM-7"}
	rom := strings.Join(romHeader, ";") + ";extra\n" +
		"123456789;Jansen4711;1899;Y;94O12345;TRJ-GEHEIM-99;31-02-2026;;verlengd;;PHQ-99;;voor;2026-01-01;181,5;x\n" +
		"12345678;Jansen4711;;;94012345;TRJ-GEHEIM-99;2026-01-01;;;;OQ-45;;voor;2026-01-01;181,5;x\n" +
		"12345678;Jansen4711;;;94012345\n" +
		strings.Repeat("Jansen4711", 500) + ";Jansen4711;;;94012345;TRJ-GEHEIM-99;2026-01-01;;;;OQ-45;;;;;x\n" +
		"\"Jansen4711\"TRJ-GEHEIM-99;\n"
	lvr := strings.Join(lvr1Header, ";") + "\n" +
		"123456789;Jansen4711;1899;1012XY;9999999;VSV_GEHEIM;ZW-GEHEIM-7;31-02-2026;;0;1;1;;;;;SPONT;;31-02-2026;280;;;;;;;\n" +
		"12345678;Jansen4711;;3511 ZZZ;03012345;VSV-01;ZW-GEHEIM-7;;;0;1;1;;;;;SPONT;;2026-01-01;280;;;;;;;\n"
	for name, data := range map[string]string{"rom": rom, "lvr1": lvr, "rom, windows-1252": "\xe9" + rom} {
		t.Run(name, func(t *testing.T) {
			var out []string
			for _, enc := range []Encoding{EncodingAuto, EncodingWindows1252} {
				rd, rows, err := readAll(t, data, Options{Encoding: enc})
				if err != nil {
					out = append(out, err.Error(), fmt.Sprintf("%+v", err))
				}
				if rd != nil {
					for _, is := range rd.HeaderWarnings() {
						out = append(out, fmt.Sprintf("%+v", is), is.Code.Message())
					}
				}
				for _, r := range rows {
					for _, is := range append(r.Errors, r.Warnings...) {
						out = append(out, fmt.Sprintf("%+v", is), is.Code.Message())
					}
				}
			}
			if len(out) < 10 {
				t.Fatalf("got only %d issues and errors: %q", len(out), out)
			}
			for _, s := range out {
				for _, v := range secrets {
					if strings.Contains(s, v) {
						t.Errorf("%q contains the value %q", s, v)
					}
				}
			}
		})
	}
}
