package processor

import (
	"cmp"
	"container/heap"
	"fmt"
	"os"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// extSorter sorts records of one delivery by identity with bounded memory:
// up to limit records are sorted in memory; beyond that sorted runs are
// spilled to temporary files (pseudonymised records only, never a value
// from the input in the clear) and merged. Equal identities keep file order
// (by line), so the merged stream can let the later row win.
type extSorter[T any] struct {
	cmp   func(a, b *T) int
	dir   string
	limit int
	buf   []sortItem[T]
	ptrs  []*sortItem[T] // sorted view of buf: sorting pointers moves 8 bytes, not a record
	runs  []string
}

type sortItem[T any] struct {
	Rec  T
	Line int32
}

func newExtSorter[T any](dir string, limit int, cmp func(a, b *T) int) *extSorter[T] {
	return &extSorter[T]{cmp: cmp, dir: dir, limit: limit}
}

func (s *extSorter[T]) itemCmp(a, b *sortItem[T]) int {
	if c := s.cmp(&a.Rec, &b.Rec); c != 0 {
		return c
	}
	return cmp.Compare(a.Line, b.Line)
}

func (s *extSorter[T]) add(rec T, line int) error {
	if s.buf == nil {
		s.buf = make([]sortItem[T], 0, min(s.limit, 16<<10))
	}
	s.buf = append(s.buf, sortItem[T]{Rec: rec, Line: int32(line)})
	if len(s.buf) >= s.limit {
		return s.spill()
	}
	return nil
}

// sorted returns the buffered records in (identity, line) order.
func (s *extSorter[T]) sorted() []*sortItem[T] {
	s.ptrs = s.ptrs[:0]
	for i := range s.buf {
		s.ptrs = append(s.ptrs, &s.buf[i])
	}
	slices.SortFunc(s.ptrs, s.itemCmp)
	return s.ptrs
}

func (s *extSorter[T]) spill() error {
	sorted := s.sorted()
	f, err := os.CreateTemp(s.dir, "ttpgate-sort-*")
	if err != nil {
		return fmt.Errorf("sort spill: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	i := 0
	err = writeRun(f, func() (sortItem[T], bool, error) {
		if i == len(sorted) {
			return sortItem[T]{}, false, nil
		}
		i++
		return *sorted[i-1], true, nil
	})
	if err != nil {
		return fmt.Errorf("sort spill: %w", err)
	}
	clear(s.buf)
	s.buf = s.buf[:0]
	clear(s.ptrs)
	s.ptrs = s.ptrs[:0]
	return nil
}

// maxFanIn bounds how many runs are merged at once: every open run holds
// page buffers, so without a bound memory would grow with the file.
const maxFanIn = 16

// writeRun writes the items next yields to f as one run and closes f. Runs
// are Parquet, uncompressed, with small pages: Parquet keeps optional values
// exact (gob would turn a pointer to zero into nil) and reads back in
// batches; small pages keep a run's read buffers small.
func writeRun[T any](f *os.File, next func() (sortItem[T], bool, error)) error {
	w := parquet.NewGenericWriter[sortItem[T]](f, parquet.Compression(&parquet.Uncompressed),
		parquet.MaxRowsPerRowGroup(32<<10), parquet.PageBufferSize(32<<10))
	batch := make([]sortItem[T], 0, 1024)
	for {
		it, ok, err := next()
		if err != nil {
			f.Close()
			return err
		}
		if ok {
			batch = append(batch, it)
		}
		if len(batch) == cap(batch) || (!ok && len(batch) > 0) {
			if _, err := w.Write(batch); err != nil {
				f.Close()
				return err
			}
			clear(batch)
			batch = batch[:0]
		}
		if !ok {
			break
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// mergeSources merges sorted sources into one sorted stream.
func (s *extSorter[T]) mergeSources(srcs []runSource[T]) (func() (sortItem[T], bool, error), error) {
	h := &mergeHeap[T]{less: func(a, b *sortItem[T]) bool { return s.itemCmp(a, b) < 0 }}
	for _, src := range srcs {
		it, ok, err := src.next()
		if err != nil {
			return nil, err
		}
		if ok {
			h.items = append(h.items, heapEntry[T]{item: it, src: src})
		}
	}
	heap.Init(h)
	return func() (sortItem[T], bool, error) {
		if h.Len() == 0 {
			return sortItem[T]{}, false, nil
		}
		top := &h.items[0]
		cur := top.item
		it, ok, err := top.src.next()
		if err != nil {
			return cur, false, err
		}
		if ok {
			top.item = it
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
		return cur, true, nil
	}, nil
}

// reduceRuns merges runs maxFanIn at a time into longer runs until at most
// maxFanIn remain.
func (s *extSorter[T]) reduceRuns() error {
	for len(s.runs) > maxFanIn {
		group := s.runs[:maxFanIn]
		var srcs []runSource[T]
		var readers []*rowReader[sortItem[T]]
		for _, name := range group {
			r, err := openParquet[sortItem[T]](name)
			if err != nil {
				return fmt.Errorf("sort merge: %w", err)
			}
			readers = append(readers, r)
			srcs = append(srcs, r)
		}
		next, err := s.mergeSources(srcs)
		if err == nil {
			var f *os.File
			if f, err = os.CreateTemp(s.dir, "ttpgate-sort-*"); err == nil {
				s.runs = append(s.runs, f.Name())
				err = writeRun(f, next)
			}
		}
		for _, r := range readers {
			r.Close()
		}
		if err != nil {
			return fmt.Errorf("sort merge: %w", err)
		}
		for _, name := range group {
			os.Remove(name)
		}
		s.runs = s.runs[maxFanIn:]
	}
	return nil
}

// close removes the spilled runs.
func (s *extSorter[T]) close() {
	for _, name := range s.runs {
		os.Remove(name)
	}
	s.runs = nil
	s.buf, s.ptrs = nil, nil
}

// each yields the records in identity order, one per identity: of records
// with equal identity the one with the highest line wins, and dup is called
// with the line of each record it replaced.
func (s *extSorter[T]) each(yield func(rec *T) error, dup func(line int)) error {
	if err := s.reduceRuns(); err != nil {
		return err
	}
	srcs := []runSource[T]{&memRun[T]{items: s.sorted()}}
	for _, name := range s.runs {
		r, err := openParquet[sortItem[T]](name)
		if err != nil {
			return fmt.Errorf("sort merge: %w", err)
		}
		defer r.Close()
		srcs = append(srcs, r)
	}
	next, err := s.mergeSources(srcs)
	if err != nil {
		return err
	}
	var prev sortItem[T]
	have := false
	for {
		cur, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if have && s.cmp(&prev.Rec, &cur.Rec) == 0 {
			dup(int(prev.Line))
			prev = cur
			continue
		}
		if have {
			if err := yield(&prev.Rec); err != nil {
				return err
			}
		}
		prev, have = cur, true
	}
	if have {
		return yield(&prev.Rec)
	}
	return nil
}

type runSource[T any] interface {
	next() (sortItem[T], bool, error)
}

type memRun[T any] struct {
	items []*sortItem[T]
	i     int
}

func (m *memRun[T]) next() (sortItem[T], bool, error) {
	if m.i >= len(m.items) {
		return sortItem[T]{}, false, nil
	}
	m.i++
	return *m.items[m.i-1], true, nil
}

type heapEntry[T any] struct {
	item sortItem[T]
	src  runSource[T]
}

type mergeHeap[T any] struct {
	items []heapEntry[T]
	less  func(a, b *sortItem[T]) bool
}

func (h *mergeHeap[T]) Len() int           { return len(h.items) }
func (h *mergeHeap[T]) Less(i, j int) bool { return h.less(&h.items[i].item, &h.items[j].item) }
func (h *mergeHeap[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap[T]) Push(x any)         { h.items = append(h.items, x.(heapEntry[T])) }
func (h *mergeHeap[T]) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
