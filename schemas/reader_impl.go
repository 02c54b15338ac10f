package schemas

import "io"

// Placeholder until the reader lands (being written now).
type reader struct {
	dataset        Dataset
	sep            rune
	headerWarnings []Issue
}

func newReader(r io.Reader, opts Options) (*reader, error) { return nil, errNotImplemented }
func (r *reader) next() (Row, error)                       { return Row{}, errNotImplemented }
