package schemas

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// column is one column of an extract format.
type column struct {
	name     string
	required bool
}

// format describes one extract format: its columns in specification order
// (the order missing columns are reported in), the two columns that
// recognise it, and how to read a row.
type format struct {
	dataset Dataset
	columns []column
	keys    [2]string
	byName  map[string]int
	read    func(r *reader, f *fields, row *Row)
}

func newFormat(ds Dataset, keys [2]string, cols []column, read func(*reader, *fields, *Row)) *format {
	f := &format{dataset: ds, columns: cols, keys: keys, byName: make(map[string]int, len(cols)), read: read}
	for i, c := range cols {
		f.byName[c.name] = i
	}
	return f
}

// formats are the known extract formats.
var formats = []*format{
	newFormat(ROM, [2]string{"traject_id", "meetmoment"}, romColumns, readROM),
	newFormat(LVR1, [2]string{"zwangerschap_id", "type_partus"}, lvr1Columns, readLVR1),
}

// maxShownColumnName bounds how much of an unknown column's name a warning
// repeats.
const maxShownColumnName = 64

// reader implements Reader.
type reader struct {
	dataset        Dataset
	sep            rune
	headerWarnings []Issue

	format   *format
	csv      *csv.Reader
	lineBase int   // blank lines before the header, which csv does not see
	nfields  int   // fields in the header
	index    []int // format column -> field index, -1 when absent
	year     int64 // upper bound of birth years

	instruments  *InstrumentTable
	defaultScale map[string]string // canonical code -> default scale, "" when none

	err error // sticky
}

func newReader(src io.Reader, opts Options) (*reader, error) {
	r := &reader{year: int64(opts.CurrentYear)}
	if r.year == 0 {
		r.year = int64(time.Now().Year())
	}
	list := opts.Instruments
	if list == nil {
		list = DefaultInstruments()
	}
	r.instruments = NewInstrumentTable(list)
	r.defaultScale = defaultScales(list)

	br := bufio.NewReaderSize(newRecordLimiter(decode(src, opts.Encoding), maxRecordBytes), 64<<10)
	head, skipped, err := readHeader(br)
	if err == io.EOF {
		return nil, &FileError{Reason: ReasonNotCSV}
	}
	if err != nil {
		return nil, err
	}
	r.sep = detectSeparator(head)
	r.lineBase = skipped
	r.csv = csv.NewReader(io.MultiReader(bytes.NewReader(head), br))
	r.csv.Comma = r.sep
	r.csv.FieldsPerRecord = -1
	r.csv.ReuseRecord = true
	rec, err := r.csv.Read()
	if err != nil {
		if err == io.EOF {
			return nil, &FileError{Reason: ReasonNotCSV}
		}
		return nil, r.fileError(err)
	}
	if err := r.readColumns(rec, 1+skipped); err != nil {
		return nil, err
	}
	return r, nil
}

// defaultScales returns, per instrument, the scale an empty schaal means:
// "totaal" when the instrument has it, else its only scale.
func defaultScales(list []Instrument) map[string]string {
	scales := map[string][]string{}
	for _, in := range list {
		scales[in.Code] = append(scales[in.Code], strings.ToLower(in.Scale))
	}
	def := make(map[string]string, len(scales))
	for code, ss := range scales {
		switch {
		case len(ss) == 1:
			def[code] = ss[0]
		default:
			for _, s := range ss {
				if s == "totaal" {
					def[code] = s
				}
			}
		}
	}
	return def
}

// readColumns recognises the dataset from the header and maps its columns.
func (r *reader) readColumns(rec []string, line int) error {
	if len(rec) > maxColumns {
		return &FileError{Reason: ReasonTooManyColumns, Line: line}
	}
	names := make([]string, len(rec))
	has := map[string]bool{}
	for i, s := range rec {
		names[i] = strings.ToLower(cleanHeaderName(s))
		has[names[i]] = true
	}
	for _, f := range formats {
		if has[f.keys[0]] && has[f.keys[1]] {
			if r.format != nil { // both: ambiguous
				return &FileError{Reason: ReasonUnknownDataset, Line: line}
			}
			r.format = f
		}
	}
	if r.format == nil {
		return &FileError{Reason: ReasonUnknownDataset, Line: line}
	}
	r.dataset = r.format.dataset
	r.nfields = len(rec)
	r.index = make([]int, len(r.format.columns))
	for i := range r.index {
		r.index[i] = -1
	}
	for i, name := range names {
		if name == "" {
			continue // Excel's trailing empty columns
		}
		c, ok := r.format.byName[name]
		if !ok {
			r.headerWarnings = append(r.headerWarnings, Issue{Row: line, Column: shownName(cleanHeaderName(rec[i])), Code: CodeUnknownColumn, Severity: SeverityWarning})
			continue
		}
		if r.index[c] >= 0 {
			return &FileError{Reason: ReasonDuplicateColumn, Columns: []string{r.format.columns[c].name}, Line: line}
		}
		r.index[c] = i
	}
	var missing []string
	for c, col := range r.format.columns {
		if col.required && r.index[c] < 0 {
			missing = append(missing, col.name)
		}
	}
	if missing != nil {
		return &FileError{Reason: ReasonMissingColumn, Columns: missing, Line: line}
	}
	return nil
}

// shownName bounds an unknown column's name for a warning.
func shownName(s string) string {
	if utf8.RuneCountInString(s) <= maxShownColumnName {
		return s
	}
	n := 0
	for i := range s {
		if n == maxShownColumnName {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

func (r *reader) next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	for {
		rec, err := r.csv.Read()
		if err != nil {
			r.err = r.fileError(err)
			return Row{}, r.err
		}
		if isBlankRecord(rec) {
			continue
		}
		line, _ := r.csv.FieldPos(0)
		line += r.lineBase
		row := Row{Line: line}
		if len(rec) != r.nfields {
			row.Errors = []Issue{{Row: line, Code: CodeWrongFieldCount, Severity: SeverityError}}
			return row, nil
		}
		f := fields{rec: rec, index: r.index, columns: r.format.columns, line: line}
		f.checkLengths()
		r.format.read(r, &f, &row)
		if len(f.errs) > 0 {
			row.ROM, row.LVR1 = nil, nil
		}
		row.Errors, row.Warnings = f.errs, f.warns
		return row, nil
	}
}

// fileError maps a csv error to what Next returns: broken quoting rejects
// the file; io.EOF, a *FileError of the record limiter, an error wrapping
// ErrNotUTF8 and read errors of the source pass unchanged.
func (r *reader) fileError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FileError{Reason: ReasonNotCSV, Line: pe.StartLine + r.lineBase}
	}
	return err
}

// fields gives typed access to the values of one record. Every accessor
// reports at most one issue for its column, and returns the zero value (or
// ok false) when the value is absent or invalid.
type fields struct {
	rec     []string
	index   []int
	columns []column
	line    int
	bad     uint64 // columns with an error already (formats have fewer than 64)
	errs    []Issue
	warns   []Issue
}

// checkLengths reports every known column whose value is longer than
// maxFieldBytes, before anything tries to parse it.
func (f *fields) checkLengths() {
	for c, i := range f.index {
		if i >= 0 && len(f.rec[i]) > maxFieldBytes {
			f.fail(c, CodeTooLong)
		}
	}
}

func (f *fields) fail(c int, code Code) {
	f.bad |= 1 << c
	f.errs = append(f.errs, Issue{Row: f.line, Column: f.columns[c].name, Code: code, Severity: SeverityError})
}

func (f *fields) warn(c int, code Code) {
	f.warns = append(f.warns, Issue{Row: f.line, Column: f.columns[c].name, Code: code, Severity: SeverityWarning})
}

func (f *fields) failed(c int) bool { return f.bad&(1<<c) != 0 }

// value returns the trimmed value of column c; ok is false when the column
// is absent, the value empty, or already reported.
func (f *fields) value(c int) (s string, ok bool) {
	i := f.index[c]
	if i < 0 || f.failed(c) {
		return "", false
	}
	s = strings.TrimSpace(f.rec[i])
	return s, s != ""
}

// present reports whether column c has a value, valid or not.
func (f *fields) present(c int) bool {
	_, ok := f.value(c)
	return ok || f.failed(c)
}

// absent reports an empty required value.
func (f *fields) absent(c int, required bool) {
	if required && !f.failed(c) {
		f.fail(c, CodeMissingValue)
	}
}

// text returns a value of at most max characters.
func (f *fields) text(c int, required bool, max int) string {
	s, ok := f.value(c)
	if !ok {
		f.absent(c, required)
		return ""
	}
	if utf8.RuneCountInString(s) > max {
		f.fail(c, CodeTooLong)
		return ""
	}
	// Identifiers never hold control characters; a NUL would also make the
	// NUL-separated input of the pseudonym ambiguous.
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		f.fail(c, CodeInvalidFormat)
		return ""
	}
	return s
}

// integer returns an integer within lo…hi.
func (f *fields) integer(c int, required bool, lo, hi int64) (int32, bool) {
	s, ok := f.value(c)
	if !ok {
		f.absent(c, required)
		return 0, false
	}
	v, ok := parseInt(s)
	if !ok {
		f.fail(c, CodeInvalidNumber)
		return 0, false
	}
	if v < lo || v > hi {
		f.fail(c, CodeOutOfRange)
		return 0, false
	}
	return int32(v), true
}

// optInteger is integer for an optional column, nil when absent.
func (f *fields) optInteger(c int, lo, hi int64) *int32 {
	if v, ok := f.integer(c, false, lo, hi); ok {
		return new(v)
	}
	return nil
}

// intCode returns an optional numeric code for which allowed is true.
func (f *fields) intCode(c int, allowed func(int64) bool) *int32 {
	s, ok := f.value(c)
	if !ok {
		return nil
	}
	v, ok := parseInt(s)
	if !ok || !allowed(v) {
		f.fail(c, CodeInvalidCode)
		return nil
	}
	return new(int32(v))
}

// code returns the canonical spelling of one of the codes, matched
// case-insensitively.
func (f *fields) code(c int, required bool, codes []string) string {
	s, ok := f.value(c)
	if !ok {
		f.absent(c, required)
		return ""
	}
	for _, k := range codes {
		if strings.EqualFold(s, k) {
			return k
		}
	}
	f.fail(c, CodeInvalidCode)
	return ""
}

// date returns a date in one of the supported forms.
func (f *fields) date(c int, required bool) (Date, bool) {
	s, ok := f.value(c)
	if !ok {
		f.absent(c, required)
		return 0, false
	}
	d, ok := parseDate(s)
	if !ok {
		f.fail(c, CodeInvalidDate)
	}
	return d, ok
}

// decimal returns an optional decimal number.
func (f *fields) decimal(c int) (float64, bool) {
	s, ok := f.value(c)
	if !ok {
		return 0, false
	}
	v, ok := parseDecimal(s)
	if !ok {
		f.fail(c, CodeInvalidNumber)
	}
	return v, ok
}

// agb returns a required AGB code: exactly eight digits.
func (f *fields) agb(c int) string {
	s, ok := f.value(c)
	if !ok {
		f.absent(c, true)
		return ""
	}
	if len(s) != 8 || !allDigits(s) {
		f.fail(c, CodeInvalidFormat)
		return ""
	}
	return s
}

// bsn returns a normalised BSN or "", with a warning when it was padded or
// dropped.
func (f *fields) bsn(c int) string {
	s, _ := f.value(c)
	bsn, w := checkBSN(s)
	if w != "" {
		f.warn(c, w)
	}
	return bsn
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
