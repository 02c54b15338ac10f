package processor

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/schemas"
)

// Output tables and where they live in the store.
const (
	tableROMOutcomes = "out/kibg/rom_outcomes/"
	tableROMResponse = "out/kibg/rom_response/"
	tableIG          = "out/dhd/ig_indicators/"
	tableODB         = "out/zin/ig_odb/"
	tableDeliveries  = "out/ops/deliveries/"
	partFile         = "part-00000.parquet"
)

// stagedSource is one accepted delivery's staging file.
type stagedSource struct {
	id, key, sha string
}

// rebuild recomputes every output from all staged records and writes the
// files whose bytes changed; partitions that no longer exist are removed.
// Each file is replaced atomically, so a reader sees the old partition or
// the new one.
func (p *Processor) rebuild(ctx context.Context, metas []delivery.Meta, ledger map[string]LedgerEntry, sum *Summary) error {
	sources := map[string][]stagedSource{}
	ids := slices.Sorted(maps.Keys(ledger))
	for _, id := range ids {
		e := ledger[id]
		if e.State == stateDone && e.StagingKey != "" && (e.Status == StatusAccepted || e.Status == StatusAcceptedWithWarnings) {
			sources[e.Dataset] = append(sources[e.Dataset], stagedSource{id: id, key: e.StagingKey, sha: e.SHA256})
		}
	}
	params := aggParams{MinCell: p.opt.MinCell, Instruments: p.instr,
		PreBefore: p.opt.PreBefore, PreAfter: p.opt.PreAfter, PostBefore: p.opt.PostBefore, PostAfter: p.opt.PostAfter}
	files := map[string][]byte{}
	meta := func(table, partition string, srcs []stagedSource, idx []int) map[string]string {
		shas := make([]string, 0, len(idx))
		for _, i := range idx {
			shas = append(shas, srcs[i].sha)
		}
		slices.Sort(shas)
		shas = slices.Compact(shas)
		b, _ := json.Marshal(shas)
		m := map[string]string{
			"ttpgate.table":           table,
			"ttpgate.schema_version":  fmt.Sprint(schemas.SchemaVersion),
			"ttpgate.program_version": p.opt.Version,
			"ttpgate.min_cell":        fmt.Sprint(p.opt.MinCell),
			"ttpgate.source_sha256":   string(b),
		}
		if partition != "" {
			m["ttpgate.partition"] = partition
		}
		return m
	}

	// ROM.
	romSrc := sources[string(schemas.ROM)]
	ra := newROMAggregator(params)
	if err := mergeStaged(ctx, p, romSrc, compareROM, func(rec *schemas.ROMStaged, src int) { ra.add(rec, src) }); err != nil {
		return fmt.Errorf("rom: %w", err)
	}
	outcomes, response := ra.finish()
	for period, part := range outcomes {
		if err := addFile(files, tableROMOutcomes+"period="+period+"/"+partFile, part.Rows,
			writerOptions(p.opt.Version, meta("kibg/rom_outcomes", "period="+period, romSrc, part.Sources))); err != nil {
			return err
		}
	}
	for period, part := range response {
		if err := addFile(files, tableROMResponse+"period="+period+"/"+partFile, part.Rows,
			writerOptions(p.opt.Version, meta("kibg/rom_response", "period="+period, romSrc, part.Sources))); err != nil {
			return err
		}
	}

	// LVR1.
	lvrSrc := sources[string(schemas.LVR1)]
	la := newLVR1Aggregator(params)
	if err := mergeStaged(ctx, p, lvrSrc, compareLVR1, func(rec *schemas.LVR1Staged, src int) { la.add(rec, src) }); err != nil {
		return fmt.Errorf("lvr1: %w", err)
	}
	ind, odb := la.finish()
	for year, part := range ind {
		y := fmt.Sprint(year)
		if err := addFile(files, tableIG+"year="+y+"/"+partFile, part.Rows,
			writerOptions(p.opt.Version, meta("dhd/ig_indicators", "year="+y, lvrSrc, part.Sources))); err != nil {
			return err
		}
	}
	for year, part := range odb {
		y := fmt.Sprint(year)
		if err := addFile(files, tableODB+"year="+y+"/"+partFile, part.Rows,
			writerOptions(p.opt.Version, meta("zin/ig_odb", "year="+y, lvrSrc, part.Sources))); err != nil {
			return err
		}
	}

	// Operators' table: one row per processed delivery.
	var rows []schemas.DeliveryRow
	var all []stagedSource
	var allIdx []int
	for _, m := range metas {
		e, ok := ledger[m.ID]
		if !ok || e.State != stateDone {
			continue
		}
		all = append(all, stagedSource{id: m.ID, sha: m.SHA256})
		allIdx = append(allIdx, len(all)-1)
		rows = append(rows, deliveryRow(m, e))
	}
	if len(rows) > 0 {
		if err := addFile(files, tableDeliveries+partFile, rows,
			writerOptions(p.opt.Version, meta("ops/deliveries", "", all, allIdx))); err != nil {
			return err
		}
	}
	if p.fence != nil {
		if err := p.fence(ctx); err != nil {
			return err
		}
	}
	return p.publish(ctx, files, sum)
}

func addFile[T any](files map[string][]byte, key string, rows []T, opts []parquet.WriterOption) error {
	var buf bytes.Buffer
	if err := writeRows(&buf, rows, opts); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	files[key] = buf.Bytes()
	return nil
}

// publish writes the files whose bytes differ from what the store holds and
// removes output files that are no longer produced.
func (p *Processor) publish(ctx context.Context, files map[string][]byte, sum *Summary) error {
	existing := map[string]bool{}
	for info, err := range p.opt.Store.List(ctx, "out/") {
		if err != nil {
			return fmt.Errorf("list outputs: %w", err)
		}
		existing[info.Key] = true
	}
	for _, key := range slices.Sorted(maps.Keys(files)) {
		data := files[key]
		if existing[key] {
			old, err := store.ReadAll(ctx, p.opt.Store, key, int64(len(data))+1)
			if err == nil && sha256.Sum256(old) == sha256.Sum256(data) {
				sum.OutputsUnchanged++
				continue
			}
		}
		if err := p.opt.Store.Put(ctx, key, bytes.NewReader(data)); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		sum.OutputsWritten = append(sum.OutputsWritten, key)
	}
	for _, key := range slices.Sorted(maps.Keys(existing)) {
		if _, ok := files[key]; ok || !isOutputKey(key) {
			continue
		}
		if err := p.opt.Store.Delete(ctx, key); err != nil {
			return fmt.Errorf("remove stale output %s: %w", key, err)
		}
		sum.OutputsRemoved = append(sum.OutputsRemoved, key)
	}
	return nil
}

func isOutputKey(key string) bool {
	for _, t := range []string{tableROMOutcomes, tableROMResponse, tableIG, tableODB, tableDeliveries} {
		if strings.HasPrefix(key, t) && strings.HasSuffix(key, ".parquet") {
			return true
		}
	}
	return false
}

func deliveryRow(m delivery.Meta, e LedgerEntry) schemas.DeliveryRow {
	return schemas.DeliveryRow{
		DeliveryID:   m.ID,
		Tenant:       m.Tenant,
		Channel:      m.Channel,
		FileName:     m.FileName,
		ReceivedAt:   m.ReceivedAt.UTC(),
		SizeBytes:    m.Size,
		SHA256:       m.SHA256,
		Dataset:      e.Dataset,
		Status:       e.Status,
		RowsTotal:    e.RowsTotal,
		RowsAccepted: e.RowsAccepted,
		RowsRejected: e.RowsRejected,
		ProcessedAt:  e.ProcessedAt.UTC(),
	}
}

// openStaged opens a staging file for reading. When the store's reader can
// read at offsets (a local file, a minio-go object) it is used directly;
// otherwise the file is copied to WorkDir first.
func openStaged[T any](ctx context.Context, p *Processor, key string) (*rowReader[T], error) {
	info, err := p.opt.Store.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	rc, err := p.opt.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if ra, ok := rc.(io.ReaderAt); ok {
		r, err := newRowReader[T](ra, info.Size, rc)
		if err != nil {
			rc.Close()
		}
		return r, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(p.opt.WorkDir, "ttpgate-staged-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // the open handle keeps it until Close
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return nil, err
	}
	r, err := newRowReader[T](f, info.Size, f)
	if err != nil {
		f.Close()
	}
	return r, err
}

// mergeStaged reads the staging files of srcs (in delivery order) merged by
// identity and calls visit once per identity with the record of the latest
// delivery that holds it, and that delivery's index in srcs.
func mergeStaged[T any](ctx context.Context, p *Processor, srcs []stagedSource, cmp func(a, b *T) int, visit func(rec *T, src int)) error {
	h := &stagedHeap[T]{cmp: cmp}
	defer func() {
		for _, e := range h.items {
			e.r.Close()
		}
	}()
	for i, s := range srcs {
		r, err := openStaged[T](ctx, p, s.key)
		if err != nil {
			if errors.Is(err, store.ErrNotExist) {
				return fmt.Errorf("staging file of accepted delivery %s is missing", s.id)
			}
			return fmt.Errorf("open staging of %s: %w", s.id, err)
		}
		rec, ok, err := r.nextRow()
		if err != nil {
			r.Close()
			return fmt.Errorf("read staging of %s: %w", s.id, err)
		}
		if !ok {
			r.Close()
			continue
		}
		h.items = append(h.items, stagedEntry[T]{rec: rec, src: i, r: r})
	}
	heap.Init(h)
	var prev T
	prevSrc, have := -1, false
	n := 0
	for h.Len() > 0 {
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		top := &h.items[0]
		cur, curSrc := top.rec, top.src
		rec, ok, err := top.r.nextRow()
		if err != nil {
			return fmt.Errorf("read staging of %s: %w", srcs[top.src].id, err)
		}
		if ok {
			top.rec = rec
			heap.Fix(h, 0)
		} else {
			top.r.Close()
			heap.Pop(h)
		}
		if have && cmp(&prev, &cur) == 0 {
			prev, prevSrc = cur, curSrc // equal identity, later delivery (higher src) wins
			continue
		}
		if have {
			visit(&prev, prevSrc)
		}
		prev, prevSrc, have = cur, curSrc, true
	}
	if have {
		visit(&prev, prevSrc)
	}
	return nil
}

type stagedEntry[T any] struct {
	rec T
	src int
	r   *rowReader[T]
}

type stagedHeap[T any] struct {
	items []stagedEntry[T]
	cmp   func(a, b *T) int
}

func (h *stagedHeap[T]) Len() int { return len(h.items) }
func (h *stagedHeap[T]) Less(i, j int) bool {
	if c := h.cmp(&h.items[i].rec, &h.items[j].rec); c != 0 {
		return c < 0
	}
	return h.items[i].src < h.items[j].src
}
func (h *stagedHeap[T]) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *stagedHeap[T]) Push(x any)    { h.items = append(h.items, x.(stagedEntry[T])) }
func (h *stagedHeap[T]) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
