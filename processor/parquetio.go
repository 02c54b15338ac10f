package processor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// Parquet as BI tools read it: zstd, bounded row groups (so neither writer
// nor reader holds a whole file), dictionary encoding where the struct tags
// ask for it, a flat schema, and key-value metadata that says what the file
// was built from.
const rowGroupRows = 64 << 10

func writerOptions(version string, meta map[string]string) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.CreatedBy("ttpgate", version, ""),
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		opts = append(opts, parquet.KeyValueMetadata(k, meta[k]))
	}
	return opts
}

// writeRows writes rows as one Parquet file to w.
func writeRows[T any](w io.Writer, rows []T, opts []parquet.WriterOption) error {
	pw := parquet.NewGenericWriter[T](w, opts...)
	for len(rows) > 0 {
		n := min(len(rows), 4096)
		if _, err := pw.Write(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return pw.Close()
}

// rowReader reads a Parquet file of T in batches, one row group at a time:
// a reader over all row groups at once holds buffers for each of them, so
// its memory would grow with the file.
type rowReader[T any] struct {
	groups []parquet.RowGroup
	r      *parquet.GenericReader[T]
	closer io.Closer
	buf    []T
	i, n   int
	err    error
}

// openParquet opens a local Parquet file.
func openParquet[T any](name string) (*rowReader[T], error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := newRowReader[T](f, st.Size(), f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func newRowReader[T any](ra io.ReaderAt, size int64, c io.Closer) (*rowReader[T], error) {
	pf, err := parquet.OpenFile(ra, size)
	if err != nil {
		return nil, fmt.Errorf("open parquet: %w", err)
	}
	r := &rowReader[T]{groups: pf.RowGroups(), closer: c, buf: make([]T, 256), err: io.EOF}
	return r, nil
}

// next returns the next row; ok is false at the end.
func (r *rowReader[T]) nextRow() (T, bool, error) {
	var zero T
	if r.i >= r.n {
		if errors.Is(r.err, io.EOF) && len(r.groups) > 0 {
			// This row group is done: go on with the next.
			if r.r != nil {
				r.r.Close()
			}
			rd, err := rowGroupReader[T](r.groups[0])
			if err != nil {
				return zero, false, err
			}
			r.r, r.groups, r.err = rd, r.groups[1:], nil
		}
		if r.err != nil {
			if errors.Is(r.err, io.EOF) {
				return zero, false, nil
			}
			return zero, false, r.err
		}
		clear(r.buf)
		r.n, r.err = r.r.Read(r.buf)
		r.i = 0
		if r.n == 0 {
			if r.err == nil {
				r.err = io.EOF
			}
			return r.nextRow()
		}
	}
	r.i++
	return r.buf[r.i-1], true, nil
}

func (r *rowReader[T]) next() (T, bool, error) { return r.nextRow() }

func (r *rowReader[T]) Close() error {
	if r.r != nil {
		r.r.Close()
	}
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// rowGroupReader opens a row group for reading into T. parquet-go panics
// when the file's schema cannot be converted to T's (a file from another
// schema version): that is an error, not a crash.
func rowGroupReader[T any](rg parquet.RowGroup) (r *parquet.GenericReader[T], err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("parquet schema does not match: %v", p)
		}
	}()
	return parquet.NewGenericRowGroupReader[T](rg), nil
}
