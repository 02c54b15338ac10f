package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzReadROM(f *testing.F) {
	f.Add([]byte(fileOf(romHeader, romBase, nil)))
	f.Add([]byte(fileOf(romHeader, romBase, map[string]string{"score": "", "bsn": "12345672"})))
	fuzzRead(f, romColumns)
}

func FuzzReadLVR1(f *testing.F) {
	f.Add([]byte(fileOf(lvr1Header, lvr1Base, nil)))
	f.Add([]byte(fileOf(lvr1Header, lvr1Base, map[string]string{"kindvolgnummer": "3", "bsn_moeder": "1"})))
	fuzzRead(f, lvr1Columns)
}

// fuzzRead reads data as the processor does (UTF-8 first, Windows-1252 when
// that fails) and checks what the reader promises: it ends, it reports
// places and codes only, and what it calls valid is valid.
func fuzzRead(f *testing.F, cols []column) {
	names := map[string]bool{"": true}
	for _, fm := range formats {
		for _, c := range fm.columns {
			names[c.name] = true
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkRead(t, data, EncodingAuto, names)
		if errors.Is(err, ErrNotUTF8) {
			err = checkRead(t, data, EncodingWindows1252, names)
		}
		if errors.Is(err, ErrNotUTF8) {
			t.Fatalf("Windows-1252 mode returned %v", err)
		}
		var fe *FileError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("got error %v, want a *FileError", err)
		}
	})
}

func checkRead(t *testing.T, data []byte, enc Encoding, names map[string]bool) error {
	rd, err := NewReader(bytes.NewReader(data), Options{Encoding: enc, CurrentYear: testYear})
	if err != nil {
		checkFileError(t, err, names)
		return err
	}
	for _, w := range rd.HeaderWarnings() {
		if w.Code != CodeUnknownColumn || w.Severity != SeverityWarning || w.Row < 1 {
			t.Fatalf("bad header warning %+v", w)
		}
	}
	maxRows := bytes.Count(data, []byte{'\n'}) + 1
	last := 0
	for n := 0; ; n++ {
		row, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			checkFileError(t, err, names)
			return err
		}
		if n >= maxRows {
			t.Fatalf("more rows than lines (%d)", maxRows)
		}
		if row.Line <= last {
			t.Fatalf("row at line %d after line %d", row.Line, last)
		}
		last = row.Line
		valid := row.ROM != nil || row.LVR1 != nil
		if valid == (len(row.Errors) > 0) || (row.ROM != nil && row.LVR1 != nil) {
			t.Fatalf("row %d: ROM %v, LVR1 %v, errors %v", row.Line, row.ROM != nil, row.LVR1 != nil, row.Errors)
		}
		if (row.ROM != nil && rd.Dataset() != ROM) || (row.LVR1 != nil && rd.Dataset() != LVR1) {
			t.Fatalf("row of another dataset than %s", rd.Dataset())
		}
		for _, is := range append(row.Errors, row.Warnings...) {
			if is.Row != row.Line || !names[is.Column] || codeMessages[is.Code] == "" {
				t.Fatalf("bad issue %+v in row %d", is, row.Line)
			}
		}
		for _, is := range row.Errors {
			if is.Severity != SeverityError {
				t.Fatalf("error with severity %d", is.Severity)
			}
		}
		if row.ROM != nil {
			checkROM(t, row.ROM)
		}
		if row.LVR1 != nil {
			checkLVR1(t, row.LVR1)
		}
	}
}

func checkFileError(t *testing.T, err error, names map[string]bool) {
	var fe *FileError
	if errors.As(err, &fe) {
		for _, c := range fe.Columns {
			if !names[c] {
				t.Fatalf("file error names column %q", c)
			}
		}
		return
	}
	if !errors.Is(err, ErrNotUTF8) {
		t.Fatalf("got error %v, want a *FileError or ErrNotUTF8", err)
	}
}

func checkROM(t *testing.T, r *ROMRow) {
	ok := (r.BSN == "" || elfproef(r.BSN)) && r.ClientID != "" && r.TrajectID != "" &&
		len(r.AGB) == 8 && allDigits(r.AGB) && (r.TrajectEind == nil || *r.TrajectEind >= r.TrajectStart) &&
		(r.Geboortejaar == 0 || (r.Geboortejaar >= 1900 && r.Geboortejaar <= testYear))
	if r.HasMeasurement() {
		in, found := NewInstrumentTable(DefaultInstruments()).Lookup(r.Instrument, r.Schaal)
		ok = ok && found && r.Meetdatum != nil && r.Score != nil && *r.Score >= in.Min && *r.Score <= in.Max &&
			(r.Meetmoment == "voor" || r.Meetmoment == "tussen" || r.Meetmoment == "na")
	} else {
		ok = ok && r.Schaal == "" && r.Meetmoment == "" && r.Meetdatum == nil && r.Score == nil
	}
	if !ok {
		t.Fatalf("invalid row accepted: %s", show(r))
	}
}

func checkLVR1(t *testing.T, r *LVR1Row) {
	ok := (r.BSNMoeder == "" || elfproef(r.BSNMoeder)) && r.ClientID != "" && r.ZwangerschapID != "" &&
		len(r.AGBPraktijk) == 8 && r.VSVCode != "" && len(r.VSVCode) <= 16 &&
		r.Kindvolgnummer >= 1 && r.Kindvolgnummer <= r.AantalKinderen && r.AantalKinderen <= 8 &&
		r.AdPartus >= 154 && r.AdPartus <= 315 && r.TypePartus != "" &&
		(r.Postcode4 == "" || (len(r.Postcode4) == 4 && allDigits(r.Postcode4)))
	if !ok {
		t.Fatalf("invalid row accepted: %s", show(r))
	}
}

// TestFuzzSeeds makes sure every fuzz target has seeds on disk: a seed
// folder that is empty or misnamed would silently fuzz from nothing.
func TestFuzzSeeds(t *testing.T) {
	for _, name := range []string{"FuzzReadROM", "FuzzReadLVR1"} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 3 {
			t.Errorf("%s: got %d seeds, want at least 3", name, len(files))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "go test fuzz v1\n[]byte(") {
				t.Errorf("%s: not in the corpus format of go test", f)
			}
		}
	}
}

// BenchmarkReadROM reads a generated file of 100,000 rows.
func BenchmarkReadROM(b *testing.B) {
	const n = 100_000
	var buf bytes.Buffer
	buf.WriteString(strings.Join(romHeader, ";") + "\n")
	instruments := []string{"OQ-45", "SQ-48", "HONOS", "CORE-10"}
	moments := []string{"voor", "tussen", "na"}
	for i := range n {
		fmt.Fprintf(&buf, "%s;C%06d;%d;%s;94012345;T%06d;%02d-%02d-2025;%02d-%02d-2026;middel;regulier;%s;;%s;%02d-%02d-2025;%d,%d\n",
			"111222333", i/3, 1940+i%60, []string{"M", "V", "X"}[i%3], i/3, 1+i%28, 1+i%12, 1+i%28, 1+i%12,
			instruments[i%4], moments[i%3], 1+i%28, 1+i%12, i%40, i%10)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	rows := 0
	for b.Loop() {
		rd, err := NewReader(bytes.NewReader(data), Options{CurrentYear: testYear})
		if err != nil {
			b.Fatal(err)
		}
		for {
			row, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if row.ROM == nil {
				b.Fatalf("row %d: %v", row.Line, row.Errors)
			}
			rows++
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
