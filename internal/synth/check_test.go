package synth

// An independent reading of the extract specs, used to check what the
// generator writes. It shares no code with the generator on purpose.

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// testDialect is what the tests expect of each dialect.
type testDialect struct {
	sep     rune
	layout  string // time layout of dates
	comma   bool   // decimal comma
	bom     bool
	crlf    bool
	cp1252  bool
	quoted  bool // every field quoted
	dialect Dialect
}

var testDialects = map[Dialect]testDialect{
	Standard:    {sep: ',', layout: "2006-01-02"},
	ExcelNL:     {sep: ';', layout: "02-01-2006", comma: true, bom: true, crlf: true},
	Windows1252: {sep: ';', layout: "02-01-2006", comma: true, crlf: true, cp1252: true},
	Pipe:        {sep: '|', layout: "2-1-2006", comma: true, quoted: true},
	Tab:         {sep: '\t', layout: "02/01/2006"},
}

func dialectOf(t *testing.T, d Dialect) testDialect {
	t.Helper()
	td, ok := testDialects[d]
	if !ok {
		t.Fatalf("no test expectations for dialect %q", d)
	}
	td.dialect = d
	return td
}

// table is a parsed extract: columns by name and the data records.
type table struct {
	header []string
	col    map[string]int
	rows   [][]string
}

func (tb *table) get(row []string, name string) string { return row[tb.col[name]] }

// parse reads an extract the way a receiver would, knowing its dialect.
func parse(t *testing.T, data []byte, d testDialect) *table {
	t.Helper()
	if d.cp1252 {
		dec, err := charmap.Windows1252.NewDecoder().Bytes(data)
		if err != nil {
			t.Fatalf("decode Windows-1252: %v", err)
		}
		data = dec
	}
	if d.bom {
		if !bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
			t.Fatalf("dialect %s: no BOM", d.dialect)
		}
		data = data[3:]
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = d.sep
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("dialect %s: not valid CSV: %v", d.dialect, err)
	}
	if len(recs) == 0 {
		t.Fatalf("dialect %s: no header", d.dialect)
	}
	tb := &table{header: recs[0], col: map[string]int{}, rows: recs[1:]}
	for i, h := range tb.header {
		tb.col[h] = i
	}
	return tb
}

// elfproef is the BSN check: 9 digits, 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a
// multiple of 11, not all zeros.
func elfproef(s string) bool {
	if len(s) != 9 || strings.Trim(s, "0123456789") != "" || s == "000000000" {
		return false
	}
	sum := 0
	for i := range 8 {
		sum += (9 - i) * int(s[i]-'0')
	}
	sum -= int(s[8] - '0')
	return sum%11 == 0
}

// fullBSN returns the 9-digit form of a BSN as written (8 digits: a lost
// leading zero), or "" when v is empty.
func fullBSN(v string) string {
	if len(v) == 8 {
		return "0" + v
	}
	return v
}

var (
	eightDigits = regexp.MustCompile(`^[0-9]{8}$`)
	postcodeRe  = regexp.MustCompile(`^[0-9]{4}( ?[A-Z]{2})?$`)
	vsvRe       = regexp.MustCompile(`^[A-Za-z0-9-]{1,16}$`)
)

// checker collects the rule violations of one record.
type checker struct {
	d    testDialect
	year int
	errs []string
}

func (c *checker) fail(col, format string, args ...any) {
	c.errs = append(c.errs, col+": "+fmt.Sprintf(format, args...))
}

func (c *checker) date(col, v string, required bool) (time.Time, bool) {
	if v == "" {
		if required {
			c.fail(col, "missing")
		}
		return time.Time{}, false
	}
	tm, err := time.Parse(c.d.layout, v)
	if err != nil || tm.Format(c.d.layout) != v {
		c.fail(col, "not a %s date", c.d.layout)
		return time.Time{}, false
	}
	return tm, true
}

func (c *checker) number(col, v string, lo, hi float64, required, decimals bool) {
	if v == "" {
		if required {
			c.fail(col, "missing")
		}
		return
	}
	mark, other := ".", ","
	if c.d.comma {
		mark, other = ",", "."
	}
	if strings.Contains(v, other) || (!decimals && strings.Contains(v, mark)) {
		c.fail(col, "wrong decimal mark")
		return
	}
	x, err := strconv.ParseFloat(strings.Replace(v, mark, ".", 1), 64)
	if err != nil {
		c.fail(col, "not a number")
		return
	}
	if x < lo || x > hi {
		c.fail(col, "out of range")
	}
}

func (c *checker) code(col, v string, allowed ...string) {
	if v != "" && !slices.Contains(allowed, v) {
		c.fail(col, "unknown code")
	}
}

func (c *checker) text(col, v string) {
	if v == "" || len([]rune(v)) > 64 {
		c.fail(col, "missing or too long")
	}
}

// bsn checks a BSN strictly: the generator writes only valid ones (9 digits,
// or 8 when a leading zero was lost).
func (c *checker) bsn(col, v string) {
	if v != "" && (len(v) < 8 || !elfproef(fullBSN(v))) {
		c.fail(col, "fails the elfproef")
	}
}

var testInstruments = map[string]struct {
	scale    string
	min, max float64
}{
	"OQ-45": {"totaal", 0, 180}, "SQ-48": {"totaal", 0, 148}, "BSI": {"totaal", 0, 4},
	"4DKL": {"distress", 0, 32}, "HONOS": {"totaal", 0, 48}, "CORE-10": {"totaal", 0, 40},
	"MANSA": {"totaal", 1, 7},
}

// checkROM returns the rule violations of one ROM record.
func checkROM(tb *table, row []string, d testDialect, year int) []string {
	c := &checker{d: d, year: year}
	g := func(name string) string { return tb.get(row, name) }
	if len(row) != len(tb.header) {
		return []string{"wrong field count"}
	}
	c.bsn("bsn", g("bsn"))
	c.text("client_id", g("client_id"))
	c.number("geboortejaar", g("geboortejaar"), 1900, float64(year), false, false)
	c.code("geslacht", g("geslacht"), "M", "V", "X")
	if !eightDigits.MatchString(g("agb_organisatie")) {
		c.fail("agb_organisatie", "not 8 digits")
	}
	c.text("traject_id", g("traject_id"))
	start, okStart := c.date("traject_start", g("traject_start"), true)
	end, okEnd := c.date("traject_eind", g("traject_eind"), false)
	if okStart && okEnd && end.Before(start) {
		c.fail("traject_eind", "before traject_start")
	}
	c.code("prestatie", g("prestatie"), "kort", "middel", "intensief", "chronisch", "onvolledig")
	c.code("reden_einde", g("reden_einde"), "regulier", "voortijdig", "administratief")
	measured := 0
	for _, col := range []string{"instrument", "meetmoment", "meetdatum", "score"} {
		if g(col) != "" {
			measured++
		}
	}
	switch measured {
	case 0:
		if g("schaal") != "" {
			c.fail("schaal", "without a measurement")
		}
	case 4:
		scale := g("schaal")
		if scale == "" {
			scale = "totaal"
		}
		in, ok := testInstruments[g("instrument")]
		if !ok || in.scale != scale {
			c.fail("instrument", "unknown instrument or scale")
		}
		c.code("meetmoment", g("meetmoment"), "voor", "tussen", "na")
		c.date("meetdatum", g("meetdatum"), true)
		if ok {
			c.number("score", g("score"), in.min, in.max, true, true)
		}
	default:
		c.fail("instrument", "incomplete measurement")
	}
	return c.errs
}

// checkLVR1 returns the rule violations of one LVR1 record.
func checkLVR1(tb *table, row []string, d testDialect, year int) []string {
	c := &checker{d: d, year: year}
	g := func(name string) string { return tb.get(row, name) }
	if len(row) != len(tb.header) {
		return []string{"wrong field count"}
	}
	c.bsn("bsn_moeder", g("bsn_moeder"))
	c.text("client_id", g("client_id"))
	c.number("geboortejaar_moeder", g("geboortejaar_moeder"), 1940, float64(year), false, false)
	if v := g("postcode"); v != "" && !postcodeRe.MatchString(v) {
		c.fail("postcode", "bad shape")
	}
	if !eightDigits.MatchString(g("agb_praktijk")) {
		c.fail("agb_praktijk", "not 8 digits")
	}
	if !vsvRe.MatchString(g("vsv_code")) {
		c.fail("vsv_code", "bad shape")
	}
	c.text("zwangerschap_id", g("zwangerschap_id"))
	c.date("datum_eerste_consult", g("datum_eerste_consult"), false)
	c.number("ad_eerste_consult", g("ad_eerste_consult"), 0, 300, false, false)
	c.number("pariteit", g("pariteit"), 0, 20, true, false)
	c.number("aantal_kinderen", g("aantal_kinderen"), 1, 8, true, false)
	n, _ := strconv.Atoi(g("aantal_kinderen"))
	c.number("kindvolgnummer", g("kindvolgnummer"), 1, float64(n), true, false)
	c.code("verantw_begin_baring", g("verantw_begin_baring"), "1e_lijn", "2e_lijn", "onbekend")
	c.code("overdracht", g("overdracht"), "geen", "zwangerschap", "durante_partu", "postpartum")
	c.code("wijze_begin_baring", g("wijze_begin_baring"), "1", "2", "3")
	c.code("ligging", g("ligging"), "1", "2", "3", "4", "5", "6", "11", "12", "13")
	if g("type_partus") == "" {
		c.fail("type_partus", "missing")
	}
	c.code("type_partus", g("type_partus"), "SPONT", "FORCEPS", "VACUUM", "STUIT", "SECTIO_PRIM", "SECTIO_SEC")
	c.code("plaats_baring", g("plaats_baring"), "thuis", "poliklinisch", "klinisch", "onderweg", "anders")
	if tm, ok := c.date("datum_partus", g("datum_partus"), true); ok && tm.Year() != year {
		c.fail("datum_partus", "not in the reporting year")
	}
	c.number("ad_partus", g("ad_partus"), 154, 315, true, false)
	c.code("geslacht_kind", g("geslacht_kind"), "1", "2", "3")
	c.number("geboortegewicht", g("geboortegewicht"), 200, 6500, false, false)
	c.number("apgar5", g("apgar5"), 0, 10, false, false)
	c.code("perineum", g("perineum"), "A", "B", "C", "D", "E", "F")
	c.number("bloedverlies", g("bloedverlies"), 0, 10000, false, false)
	c.code("nicu_opname", g("nicu_opname"), "J", "N")
	c.code("sterfte", g("sterfte"), "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
	return c.errs
}
