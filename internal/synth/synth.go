// Package synth writes realistic synthetic ROM and LVR1 extracts (see
// spec/rom-extract-v1.md and spec/lvr1-extract-v1.md) of any size, in the CSV
// dialects that senders actually produce. It backs `ttpgate gen`, the demo,
// tests and benchmarks.
//
// Output is a pure function of the Options: the same options give the same
// bytes, so tests and benchmarks are reproducible. Writing streams with
// constant memory whatever Options.Rows is.
//
// The logical content (every value) depends on the seed, the dataset, Year,
// the organisations and Rows, but not on the dialect: the same seed written
// in two dialects describes the same records, so a processor must produce
// identical outputs for both. Likewise Options.ErrorRate corrupts rows using
// a random stream of its own: the records that are not corrupted are the
// same as with ErrorRate 0.
//
// Identifying values are fake but shaped like real ones (BSNs pass the
// elfproef). ROMIdentifiers and LVR1Identifiers replay a generation and
// report each identifying value, so tests can check that none of them
// leaks into outputs without keeping a whole file in memory.
package synth

import (
	"fmt"
	"io"
	"math"
)

// Dialect is a CSV flavour as written by a particular kind of sender.
//
//	dialect       encoding      BOM  separator  dates       decimals  line end  quoting
//	standard      UTF-8         no   ,          2026-03-07  12.5      LF        when needed
//	excel-nl      UTF-8         yes  ;          07-03-2026  12,5      CRLF      when needed
//	windows-1252  Windows-1252  no   ;          07-03-2026  12,5      CRLF      when needed
//	pipe          UTF-8         no   |          7-3-2026    12,5      LF        every field
//	tab           UTF-8         no   TAB        07/03/2026  12.5      LF        when needed
//
// "When needed" is RFC 4180: a field is quoted when it contains the
// separator, a double quote, CR or LF; the generated values never do, so in
// practice only the pipe dialect, which quotes every field including empty
// ones and the header, exercises quoted fields.
//
// Non-ASCII text appears in every dialect (a few client numbers of a
// satellite location, such as "Súdwest-004711" or "Zoë-00815"); in the
// windows-1252 dialect it is what makes the file invalid UTF-8.
type Dialect string

const (
	Standard    Dialect = "standard"
	ExcelNL     Dialect = "excel-nl"
	Windows1252 Dialect = "windows-1252"
	Pipe        Dialect = "pipe"
	Tab         Dialect = "tab"
)

// Dialects returns every dialect, in a fixed order.
func Dialects() []Dialect {
	return []Dialect{Standard, ExcelNL, Windows1252, Pipe, Tab}
}

// ParseDialect returns the dialect named s.
func ParseDialect(s string) (Dialect, error) {
	d := Dialect(s)
	if _, ok := dialectSpecs[d]; !ok {
		return "", fmt.Errorf("unknown dialect %q (want one of standard, excel-nl, windows-1252, pipe, tab)", s)
	}
	return d, nil
}

// Options control a generated extract. The zero value asks for a header
// without rows, in the standard dialect, for the default organisations.
type Options struct {
	// Rows is the number of data rows (the header not counted). The last
	// client or pregnancy may be cut short to make the count exact.
	Rows int
	// Seed selects the data; equal options give equal bytes.
	Seed uint64
	// Dialect is the CSV flavour; empty means Standard.
	Dialect Dialect
	// Organisations are the AGB codes to use: agb_organisatie for ROM
	// (default "94012345", "94054321"), agb_praktijk for LVR1 (default
	// "03012345"). The first one gets the most records. They are written as
	// given, so a test can generate a file for an organisation a tenant may
	// not deliver for.
	Organisations []string
	// VSVs are the vsv_code values (LVR1 only; default "VSV-UTR-01").
	// Practice i belongs to VSV i modulo len(VSVs).
	VSVs []string
	// Year is the reference year (default 2026; 2000…9000). ROM
	// trajectories lie in Year-1 and Year; LVR1 births (datum_partus) in
	// Year.
	Year int
	// ErrorRate is the fraction of data rows made deliberately invalid, each
	// with one row error the spec describes (an impossible date, a score
	// out of range, an unknown code, an end before the start, an incomplete
	// measurement, ...). Corruptions never touch identifiers, the
	// organisation or the header, so the file as a whole stays acceptable.
	ErrorRate float64
}

var (
	defaultROMOrganisations  = []string{"94012345", "94054321"}
	defaultLVR1Organisations = []string{"03012345"}
	defaultVSVs              = []string{"VSV-UTR-01"}
)

// DefaultYear is the reference year when Options.Year is 0.
const DefaultYear = 2026

// normalize fills in defaults and checks o.
func (o Options) normalize(orgs []string) (Options, *dialectSpec, error) {
	if o.Rows < 0 {
		return o, nil, fmt.Errorf("synth options: rows %d is negative", o.Rows)
	}
	if o.Dialect == "" {
		o.Dialect = Standard
	}
	spec, ok := dialectSpecs[o.Dialect]
	if !ok {
		return o, nil, fmt.Errorf("synth options: unknown dialect %q", o.Dialect)
	}
	if o.Year == 0 {
		o.Year = DefaultYear
	}
	if o.Year < 2000 || o.Year > 9000 {
		return o, nil, fmt.Errorf("synth options: year %d outside 2000…9000", o.Year)
	}
	if math.IsNaN(o.ErrorRate) || o.ErrorRate < 0 || o.ErrorRate > 1 {
		return o, nil, fmt.Errorf("synth options: error rate %v outside 0…1", o.ErrorRate)
	}
	if len(o.Organisations) == 0 {
		o.Organisations = orgs
	}
	for _, a := range o.Organisations {
		if a == "" {
			return o, nil, fmt.Errorf("synth options: empty organisation code")
		}
	}
	if len(o.VSVs) == 0 {
		o.VSVs = defaultVSVs
	}
	for _, v := range o.VSVs {
		if v == "" {
			return o, nil, fmt.Errorf("synth options: empty vsv code")
		}
	}
	return o, spec, nil
}

// extractRow is one generated row of either dataset.
type extractRow interface {
	format(l *line, d *dialectSpec)
	corrupt(l *line, d *dialectSpec, r rng, year int, scratch []byte)
}

// writeExtract writes the header and o.Rows rows from next, making the rows
// that the error stream picks invalid; memory does not depend on o.Rows.
func writeExtract[R extractRow](w io.Writer, o Options, d *dialectSpec, columns []string, errStream uint64, next func() R) error {
	cw := newCSVWriter(w, d)
	if err := cw.header(columns); err != nil {
		return err
	}
	er := newRNG(o.Seed, errStream)
	var l line
	var scratch []byte
	for range o.Rows {
		row := next()
		row.format(&l, d)
		if o.ErrorRate > 0 && er.chance(o.ErrorRate) {
			row.corrupt(&l, d, er, o.Year, scratch)
			scratch = l.replVal
		}
		if err := cw.write(&l); err != nil {
			return err
		}
	}
	return cw.flush()
}
