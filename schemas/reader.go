package schemas

import (
	"errors"
	"io"
)

// Options configure a Reader.
type Options struct {
	Encoding Encoding
	// CurrentYear bounds birth years (geboortejaar ≤ CurrentYear).
	CurrentYear int
	// Instruments is the instrument table used to validate instrument codes
	// and score ranges; nil means DefaultInstruments().
	Instruments []Instrument
}

// Row is one record read from the file: either valid (ROM or LVR1 set) or
// invalid (Errors not empty, both nil). Warnings may accompany a valid row.
type Row struct {
	Line     int // line number where the record starts (header = 1)
	ROM      *ROMRow
	LVR1     *LVR1Row
	Errors   []Issue
	Warnings []Issue
}

// Reader reads and validates one extract as a stream.
type Reader struct {
	impl *reader
}

// NewReader reads the header of r: strips a UTF-8 BOM, detects the separator
// (; , TAB |), recognises the dataset and checks that every required column
// is present. File-level problems are returned as *FileError (or an error
// wrapping ErrNotUTF8 in EncodingAuto mode, or the read error of r).
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	impl, err := newReader(r, opts)
	if err != nil {
		return nil, err
	}
	return &Reader{impl: impl}, nil
}

// Dataset is the dataset recognised from the header.
func (r *Reader) Dataset() Dataset { return r.impl.dataset }

// Separator is the detected field separator.
func (r *Reader) Separator() rune { return r.impl.sep }

// HeaderWarnings are warnings about the header (unknown columns).
func (r *Reader) HeaderWarnings() []Issue { return r.impl.headerWarnings }

// Next returns the next record. It returns io.EOF after the last one; any
// other error ends reading (a read error of the source, an error wrapping
// ErrNotUTF8, or a *FileError with ReasonNotCSV for broken quoting).
func (r *Reader) Next() (Row, error) { return r.impl.next() }

var errNotImplemented = errors.New("not implemented")
