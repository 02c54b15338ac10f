// Package schemas knows the extract formats (ROM v1, LVR1 v1): how to read a
// CSV dialect, how to validate every row, and the error codes a tenant sees.
// It also defines the staged (pseudonymised) records and the output tables.
// It does io only: no decryption, no keys, no logging.
package schemas

import (
	"errors"
	"fmt"
	"time"
)

// Dataset names an extract format.
type Dataset string

const (
	ROM  Dataset = "rom"
	LVR1 Dataset = "lvr1"
)

// SchemaVersion is the version of the extract formats and output tables.
const SchemaVersion = 1

// Date is a calendar date as days since 1970-01-01 (Parquet's DATE).
type Date int32

// DateOf returns the Date of a calendar day.
func DateOf(y int, m time.Month, d int) Date {
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns midnight UTC of d.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// Year returns the calendar year of d.
func (d Date) Year() int { return d.Time().Year() }

// String formats d as yyyy-mm-dd.
func (d Date) String() string { return d.Time().Format(time.DateOnly) }

// Severity tells an error (the row is left out) from a warning (kept).
type Severity int

const (
	SeverityError Severity = iota
	SeverityWarning
)

// Issue is one problem found in a row or the header. It names the place
// (line and column), never the value.
type Issue struct {
	// Row is the line number in the file where the record starts; the header
	// is line 1, so this is the row number a spreadsheet shows. 0 for issues
	// of the file as a whole.
	Row    int
	Column string
	Code   Code
	Severity
}

// Code is a typed, fixed reason. Its message never contains a value.
type Code string

// Row-level codes.
const (
	CodeMissingValue    Code = "missing_value"          // a required value is empty
	CodeInvalidDate     Code = "invalid_date"           // not a date in a supported format
	CodeInvalidNumber   Code = "invalid_number"         // not a number
	CodeOutOfRange      Code = "out_of_range"           // a number outside its allowed range
	CodeInvalidCode     Code = "invalid_code"           // not one of the allowed codes
	CodeTooLong         Code = "too_long"               // text longer than allowed
	CodeInvalidFormat   Code = "invalid_format"         // wrong shape (e.g. AGB not 8 digits, postcode)
	CodeBSNElfproef     Code = "bsn_elfproef"           // warning: BSN fails the elfproef; left out
	CodeBSNPadded       Code = "bsn_padded"             // warning: 8-digit BSN padded with a leading 0
	CodeDateOrder       Code = "date_order"             // traject_eind before traject_start
	CodeIncomplete      Code = "incomplete_measurement" // some but not all measurement fields
	CodeUnknownColumn   Code = "unknown_column"         // warning: column ignored
	CodeWrongFieldCount Code = "wrong_field_count"      // row has more or fewer fields than the header
	CodeInconsistent    Code = "inconsistent"           // a value contradicts another (kindvolgnummer > aantal_kinderen)
	CodeDuplicateRecord Code = "duplicate_record"       // warning: same identity earlier in the file; the later row wins
)

// Message returns the fixed human message of c.
func (c Code) Message() string {
	if m, ok := codeMessages[c]; ok {
		return m
	}
	return string(c)
}

var codeMessages = map[Code]string{
	CodeMissingValue:    "a required value is empty",
	CodeInvalidDate:     "not a date in a supported format",
	CodeInvalidNumber:   "not a number in a supported format",
	CodeOutOfRange:      "value outside the allowed range",
	CodeInvalidCode:     "not one of the allowed codes",
	CodeTooLong:         "text longer than allowed",
	CodeInvalidFormat:   "value does not have the required format",
	CodeBSNElfproef:     "BSN fails the elfproef; left out",
	CodeBSNPadded:       "8-digit BSN padded with a leading zero",
	CodeDateOrder:       "end date before start date",
	CodeIncomplete:      "measurement needs instrument, meetmoment, meetdatum and score together",
	CodeUnknownColumn:   "unknown column ignored",
	CodeWrongFieldCount: "row has a different number of fields than the header",
	CodeInconsistent:    "value contradicts another value in the row",
	CodeDuplicateRecord: "same record identity earlier in this file; the later row wins",
}

// Reason is why a whole file is rejected.
type Reason string

const (
	ReasonNotDecryptable         Reason = "not_decryptable"
	ReasonNotCSV                 Reason = "not_csv"
	ReasonUnknownDataset         Reason = "unknown_dataset"
	ReasonDatasetNotAllowed      Reason = "dataset_not_allowed"
	ReasonMissingColumn          Reason = "missing_column"
	ReasonOrganisationNotAllowed Reason = "organisation_not_allowed"
	ReasonNoValidRows            Reason = "no_valid_rows"
	// ReasonDuplicateColumn: the header names a known column twice, so
	// which value counts would be a guess. Columns names it.
	ReasonDuplicateColumn Reason = "duplicate_column"
	// ReasonTooManyColumns: the header has more columns than any extract
	// (the reader's bound, 64).
	ReasonTooManyColumns Reason = "too_many_columns"
)

// FileError rejects a file as a whole. Columns names missing columns where
// that is the reason. It never carries a value from the file.
type FileError struct {
	Reason  Reason
	Columns []string
	Line    int // where the problem was found, 0 if not applicable
}

func (e *FileError) Error() string {
	s := string(e.Reason)
	if len(e.Columns) > 0 {
		s += fmt.Sprintf(" %v", e.Columns)
	}
	if e.Line > 0 {
		s += fmt.Sprintf(" at line %d", e.Line)
	}
	return s
}

// ErrNotUTF8 is returned (wrapped) by a Reader in EncodingAuto mode when the
// input turns out not to be valid UTF-8. The caller reads the file again from
// the start with EncodingWindows1252. This keeps memory constant: the spec's
// rule "a file that is not valid UTF-8 is read as Windows-1252" is decided
// for the whole file, and only files that really are Windows-1252 pay for a
// second pass.
var ErrNotUTF8 = errors.New("input is not valid UTF-8")

// Encoding selects how the bytes are decoded.
type Encoding int

const (
	EncodingAuto        Encoding = iota // UTF-8 (BOM stripped); ErrNotUTF8 on invalid bytes
	EncodingWindows1252                 // every byte decoded as Windows-1252 (a BOM is still stripped)
)
