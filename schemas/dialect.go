package schemas

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// This file holds the CSV dialect of the extracts: decoding, the record
// length limit, separator detection and the value formats (numbers, dates)
// that the ROM and LVR1 specifications share.

const (
	// maxRecordBytes bounds one record (a physical line, or several joined
	// by quoted line breaks). encoding/csv buffers a whole record, so this
	// is what keeps memory constant whatever the file holds.
	maxRecordBytes = 1 << 20
	// maxFieldBytes bounds one value of a known column; a longer one is a
	// row error (too_long) and is not parsed further.
	maxFieldBytes = 4096
	// maxColumns bounds the header. Both formats have fewer than 30
	// columns; a wider header is not an extract.
	maxColumns = 64
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decode strips a UTF-8 byte order mark and returns src as UTF-8: checked
// (EncodingAuto) or converted from Windows-1252.
func decode(src io.Reader, enc Encoding) io.Reader {
	br := bufio.NewReaderSize(src, 16) // reads larger than 16 bytes bypass the buffer
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	if enc == EncodingWindows1252 {
		return transform.NewReader(br, charmap.Windows1252.NewDecoder())
	}
	return &utf8Reader{src: br, buf: make([]byte, 64<<10)}
}

// errNotUTF8 is what a utf8Reader returns on the first invalid byte.
var errNotUTF8 = fmt.Errorf("decode extract: %w", ErrNotUTF8)

// utf8Reader passes valid UTF-8 through and fails with errNotUTF8 on the
// first invalid byte. A sequence split across reads of src is held back
// until it is complete.
type utf8Reader struct {
	src     io.Reader
	buf     []byte
	r, v, w int // buf[r:v] checked and not yet read; buf[v:w] an incomplete sequence
	err     error
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	for u.r == u.v {
		if u.err != nil {
			return 0, u.err
		}
		u.fill()
	}
	n := copy(p, u.buf[u.r:u.v])
	u.r += n
	return n, nil
}

func (u *utf8Reader) fill() {
	n := copy(u.buf, u.buf[u.v:u.w])
	u.r, u.v, u.w = 0, 0, n
	m, err := u.src.Read(u.buf[n:])
	u.w += m
	end := completeEnd(u.buf[:u.w])
	if !utf8.Valid(u.buf[:end]) || (err == io.EOF && end < u.w) {
		u.err = errNotUTF8
		return
	}
	u.v = end
	if err != nil {
		u.err = err
	}
}

// completeEnd returns len(b) less a trailing incomplete UTF-8 sequence.
func completeEnd(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		switch c := b[i]; {
		case c < utf8.RuneSelf:
			return len(b)
		case c >= 0xC0: // the start of the last sequence
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// recordLimiter fails the file (not_csv) when one record grows beyond max
// bytes. It follows RFC 4180 quoting the simple way: a line break inside an
// odd number of quotes does not end the record. Where that differs from
// encoding/csv the input has broken quoting, which csv reports first.
type recordLimiter struct {
	src    io.Reader
	max    int
	n      int  // bytes of the current record
	quoted bool // inside quotes
	line   int  // current line
	start  int  // line where the current record starts
	err    error
}

func newRecordLimiter(src io.Reader, max int) *recordLimiter {
	return &recordLimiter{src: src, max: max, line: 1, start: 1}
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.src.Read(p)
	for i, c := range p[:n] {
		switch c {
		case '"':
			l.quoted = !l.quoted
		case '\n':
			l.line++
			if !l.quoted {
				l.n = 0
				l.start = l.line
				continue
			}
		}
		l.n++
		if l.n > l.max {
			l.err = &FileError{Reason: ReasonNotCSV, Line: l.start}
			return i, l.err
		}
	}
	return n, err
}

// readHeader returns the raw bytes of the first record that is not blank,
// and how many blank lines came before it. It returns io.EOF when there is
// no such record.
func readHeader(br *bufio.Reader) (head []byte, skipped int, err error) {
	quotes := 0
	for {
		chunk, err := br.ReadSlice('\n')
		head = append(head, chunk...)
		quotes += bytes.Count(chunk, []byte{'"'})
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil && err != io.EOF:
			return nil, 0, err
		case err == nil && quotes%2 == 1:
			continue // a quoted line break
		}
		if !isBlankLine(head) {
			return head, skipped, nil
		}
		if err == io.EOF {
			return nil, skipped, io.EOF
		}
		skipped += bytes.Count(head, []byte{'\n'})
		head, quotes = head[:0], 0
	}
}

// isBlankLine reports whether b holds nothing but white space and
// separators (Excel writes `;;;;` for an empty row).
func isBlankLine(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n', ';', ',', '|':
		default:
			return false
		}
	}
	return true
}

// separators in order of preference on a tie.
var separators = [...]byte{';', '\t', '|', ','}

// detectSeparator returns the separator that occurs most often outside
// quotes in the header record.
func detectSeparator(head []byte) rune {
	var counts [len(separators)]int
	quoted := false
	for _, c := range head {
		if c == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		for i, s := range separators {
			if c == s {
				counts[i]++
			}
		}
	}
	best := 0
	for i := range counts {
		if counts[i] > counts[best] {
			best = i
		}
	}
	return rune(separators[best])
}

// isBlankRecord reports whether every field is empty or white space.
func isBlankRecord(rec []string) bool {
	for _, s := range rec {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// cleanHeaderName trims a header name of spaces and of a stray byte order
// mark or quotes (left by tools that quote or encode twice).
func cleanHeaderName(s string) string {
	return strings.Trim(s, " \t\r\n\ufeff\"\u00a0")
}

// parseInt parses an integer: an optional sign and digits. A fraction of
// one or two zeros (`12,0`, `12.00`) is accepted, because a spreadsheet
// that formats a column as a number writes integers that way; three zeros
// are not, since `1.000` is also how Dutch spreadsheets write a thousand.
// ok is false for anything else; a value too large for int64 is clamped, so
// the caller reports it as out of range rather than as not a number.
func parseInt(s string) (v int64, ok bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if i := strings.IndexAny(s, ".,"); i >= 0 {
		frac := s[i+1:]
		if frac != "0" && frac != "00" {
			return 0, false
		}
		s = s[:i]
	}
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxInt64-9)/10 {
			v = math.MaxInt64 // keep checking the digits
			continue
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseDecimal parses a decimal number with a point or a comma: an optional
// sign, digits and at most one decimal separator, at least one digit. No
// thousands separators, exponents, NaN or infinities. A number too large
// for float64 comes back as ±Inf with ok true, to be reported as out of
// range.
func parseDecimal(s string) (v float64, ok bool) {
	digits, sep := 0, -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case (c == '+' || c == '-') && i == 0:
		case (c == '.' || c == ',') && sep < 0:
			sep = i
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	if sep >= 0 && s[sep] == ',' {
		s = s[:sep] + "." + s[sep+1:]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// parseDate parses yyyy-mm-dd, or a day-first date with `-` or `/`:
// d-m-yyyy and d/m/yyyy with one or two digits for day and month. The
// date must exist and its year lie in 1900…2100.
func parseDate(s string) (Date, bool) {
	var y, m, d int
	var ok bool
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, ok = digitsValue(s[0:4], 4)
		if ok {
			m, ok = digitsValue(s[5:7], 2)
		}
		if ok {
			d, ok = digitsValue(s[8:10], 2)
		}
	} else {
		i := strings.IndexAny(s, "-/")
		if i < 0 {
			return 0, false
		}
		sep := s[i]
		j := strings.IndexByte(s[i+1:], sep)
		if j < 0 {
			return 0, false
		}
		j += i + 1
		d, ok = digitsValue(s[:i], 1, 2)
		if ok {
			m, ok = digitsValue(s[i+1:j], 1, 2)
		}
		if ok {
			y, ok = digitsValue(s[j+1:], 4)
		}
	}
	if !ok || y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return Date(daysFromCivil(y, m, d)), true
}

// digitsValue returns the value of s when it is all digits and its length
// is one of lens.
func digitsValue(s string, lens ...int) (int, bool) {
	okLen := false
	for _, n := range lens {
		okLen = okLen || len(s) == n
	}
	if !okLen {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date with a non-negative year (H. Hinnant's algorithm); the same as
// DateOf, without going through time.Time.
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	doy := (153*((m+9)%12)+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
