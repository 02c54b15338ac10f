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
	s.buf = append(s.buf, sortItem[T]{Rec: rec, Line: int32(line)})
	if len(s.buf) >= s.limit {
		return s.spill()
	}
	return nil
}

func (s *extSorter[T]) spill() error {
	slices.SortFunc(s.buf, func(a, b sortItem[T]) int { return s.itemCmp(&a, &b) })
	f, err := os.CreateTemp(s.dir, "ttpgate-sort-*")
	if err != nil {
		return fmt.Errorf("sort spill: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	// Runs are Parquet, uncompressed: it keeps optional values exact (gob
	// would turn a pointer to zero into nil) and reads back in batches.
	w := parquet.NewGenericWriter[sortItem[T]](f, parquet.Compression(&parquet.Uncompressed), parquet.MaxRowsPerRowGroup(32<<10))
	for b := s.buf; len(b) > 0; {
		n := min(len(b), 4096)
		if _, err := w.Write(b[:n]); err != nil {
			f.Close()
			return fmt.Errorf("sort spill: %w", err)
		}
		b = b[n:]
	}
	if err := w.Close(); err != nil {
		f.Close()
		return fmt.Errorf("sort spill: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sort spill: %w", err)
	}
	clear(s.buf)
	s.buf = s.buf[:0]
	return nil
}

// close removes the spilled runs.
func (s *extSorter[T]) close() {
	for _, name := range s.runs {
		os.Remove(name)
	}
	s.runs = nil
	s.buf = nil
}

// each yields the records in identity order, one per identity: of records
// with equal identity the one with the highest line wins, and dup is called
// with the line of each record it replaced.
func (s *extSorter[T]) each(yield func(rec *T) error, dup func(line int)) error {
	slices.SortFunc(s.buf, func(a, b sortItem[T]) int { return s.itemCmp(&a, &b) })
	var srcs []runSource[T]
	mem := &memRun[T]{items: s.buf}
	srcs = append(srcs, mem)
	for _, name := range s.runs {
		r, err := openParquet[sortItem[T]](name)
		if err != nil {
			return fmt.Errorf("sort merge: %w", err)
		}
		defer r.Close()
		srcs = append(srcs, r)
	}
	h := &mergeHeap[T]{less: func(a, b *sortItem[T]) bool { return s.itemCmp(a, b) < 0 }}
	for _, src := range srcs {
		it, ok, err := src.next()
		if err != nil {
			return err
		}
		if ok {
			h.items = append(h.items, heapEntry[T]{item: it, src: src})
		}
	}
	heap.Init(h)
	var prev sortItem[T]
	have := false
	for h.Len() > 0 {
		top := &h.items[0]
		cur := top.item
		it, ok, err := top.src.next()
		if err != nil {
			return err
		}
		if ok {
			top.item = it
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
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
	items []sortItem[T]
	i     int
}

func (m *memRun[T]) next() (sortItem[T], bool, error) {
	if m.i >= len(m.items) {
		return sortItem[T]{}, false, nil
	}
	m.i++
	return m.items[m.i-1], true, nil
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
