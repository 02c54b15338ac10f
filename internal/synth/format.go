package synth

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

type dateStyle int

const (
	dateISO      dateStyle = iota // 2026-03-07
	dateDashDMY                   // 07-03-2026
	dateDashDMYS                  // 7-3-2026
	dateSlashDMY                  // 07/03/2026
)

// dialectSpec is how a Dialect writes bytes.
type dialectSpec struct {
	sep      byte
	bom      bool
	crlf     bool
	comma    bool // decimal comma
	quoteAll bool
	cp1252   bool
	dates    dateStyle
}

var dialectSpecs = map[Dialect]*dialectSpec{
	Standard:    {sep: ',', dates: dateISO},
	ExcelNL:     {sep: ';', bom: true, crlf: true, comma: true, dates: dateDashDMY},
	Windows1252: {sep: ';', crlf: true, comma: true, cp1252: true, dates: dateDashDMY},
	Pipe:        {sep: '|', comma: true, quoteAll: true, dates: dateDashDMYS},
	Tab:         {sep: '\t', dates: dateSlashDMY},
}

// line collects the fields of one CSV record, formatted but not yet quoted
// or separated, in one reusable buffer.
type line struct {
	buf  []byte
	ends []int
	// One field may be replaced after formatting (to corrupt a row).
	repl    int
	replVal []byte
}

func (l *line) reset() {
	l.buf = l.buf[:0]
	l.ends = l.ends[:0]
	l.repl = -1
}

// end closes the field appended since the previous end.
func (l *line) end() { l.ends = append(l.ends, len(l.buf)) }

func (l *line) field(i int) []byte {
	if i == l.repl {
		return l.replVal
	}
	start := 0
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.buf[start:l.ends[i]]
}

// replace sets field i to v (formatted by the caller).
func (l *line) replace(i int, v []byte) {
	l.repl = i
	l.replVal = v
}

func (l *line) str(s string) {
	l.buf = append(l.buf, s...)
	l.end()
}

func (l *line) empty() { l.end() }

// intOr writes v, or an empty field when v is the "unknown" marker.
func (l *line) intOr(v, unknown int) {
	if v != unknown {
		l.buf = strconv.AppendInt(l.buf, int64(v), 10)
	}
	l.end()
}

// csvWriter writes lines in a dialect, buffered, with a sticky error.
type csvWriter struct {
	w   *bufio.Writer
	d   *dialectSpec
	out []byte
	enc []byte
	err error
}

func newCSVWriter(w io.Writer, d *dialectSpec) *csvWriter {
	cw := &csvWriter{w: bufio.NewWriterSize(w, 64<<10), d: d}
	if d.bom {
		_, cw.err = cw.w.WriteString("\uFEFF")
	}
	return cw
}

func (cw *csvWriter) header(cols []string) error {
	var l line
	l.reset()
	for _, c := range cols {
		l.str(c)
	}
	return cw.write(&l)
}

func (cw *csvWriter) write(l *line) error {
	if cw.err != nil {
		return cw.err
	}
	out := cw.out[:0]
	for i := range l.ends {
		if i > 0 {
			out = append(out, cw.d.sep)
		}
		out = cw.appendField(out, l.field(i))
	}
	if cw.d.crlf {
		out = append(out, '\r', '\n')
	} else {
		out = append(out, '\n')
	}
	cw.out = out
	if cw.d.cp1252 {
		out, cw.err = cw.to1252(out)
		if cw.err != nil {
			return cw.err
		}
	}
	_, cw.err = cw.w.Write(out)
	return cw.err
}

func (cw *csvWriter) flush() error {
	if cw.err != nil {
		return cw.err
	}
	cw.err = cw.w.Flush()
	return cw.err
}

func (cw *csvWriter) appendField(out, f []byte) []byte {
	quote := cw.d.quoteAll
	if !quote {
		for _, c := range f {
			if c == cw.d.sep || c == '"' || c == '\r' || c == '\n' {
				quote = true
				break
			}
		}
	}
	if !quote {
		return append(out, f...)
	}
	out = append(out, '"')
	for _, c := range f {
		if c == '"' {
			out = append(out, '"')
		}
		out = append(out, c)
	}
	return append(out, '"')
}

// to1252 encodes a UTF-8 line as Windows-1252.
func (cw *csvWriter) to1252(b []byte) ([]byte, error) {
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return b, nil
	}
	enc := cw.enc[:0]
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r < utf8.RuneSelf {
			enc = append(enc, byte(r))
			continue
		}
		c, ok := charmap.Windows1252.EncodeRune(r)
		if !ok {
			return nil, fmt.Errorf("synth: %q cannot be written in Windows-1252", r)
		}
		enc = append(enc, c)
	}
	cw.enc = enc
	return enc, nil
}

// Formatting of values in a dialect.

func (d *dialectSpec) appendDate(b []byte, days int) []byte {
	y, m, dd := civil(days)
	return d.appendYMD(b, y, m, dd)
}

// appendYMD formats any y, m, d, including impossible ones (to corrupt).
func (d *dialectSpec) appendYMD(b []byte, y, m, dd int) []byte {
	switch d.dates {
	case dateISO:
		b = appendPad(b, y, 4)
		b = append(b, '-')
		b = appendPad(b, m, 2)
		b = append(b, '-')
		return appendPad(b, dd, 2)
	case dateDashDMY, dateSlashDMY:
		sep := byte('-')
		if d.dates == dateSlashDMY {
			sep = '/'
		}
		b = appendPad(b, dd, 2)
		b = append(b, sep)
		b = appendPad(b, m, 2)
		b = append(b, sep)
		return appendPad(b, y, 4)
	default: // dateDashDMYS
		b = strconv.AppendInt(b, int64(dd), 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(m), 10)
		b = append(b, '-')
		return strconv.AppendInt(b, int64(y), 10)
	}
}

func appendPad(b []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendDecimal writes x with the given number of decimals and the
// dialect's decimal mark.
func (d *dialectSpec) appendDecimal(b []byte, x float64, decimals int) []byte {
	if decimals == 0 {
		return strconv.AppendInt(b, int64(math.Round(x)), 10)
	}
	start := len(b)
	b = strconv.AppendFloat(b, x, 'f', decimals, 64)
	if d.comma {
		for i := start; i < len(b); i++ {
			if b[i] == '.' {
				b[i] = ','
			}
		}
	}
	return b
}

// Calendar arithmetic on days since 1970-01-01 (H. Hinnant's algorithms),
// faster than going through time.Time for every value.

func days(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civil(z int) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
