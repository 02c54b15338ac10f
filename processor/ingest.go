package processor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/schemas"
)

// rejection is a decision to reject a delivery as a whole.
type rejection struct {
	reason  string
	detail  string // finer reason for not_decryptable
	columns []string
	orgs    []string
	vsvs    []string
}

func (r *rejection) Error() string { return r.reason }

// processOne decides one claimed delivery and records the decision: staging
// file (when accepted), feedback report, then the ledger entry.
//
// claim is the version of the ledger entry that claims the delivery for this
// processor: the decision replaces that version only, else errLostClaim.
func (p *Processor) processOne(ctx context.Context, m delivery.Meta, ledger map[string]LedgerEntry, claim string) (LedgerEntry, error) {
	began := time.Now()
	now := p.opt.Now().UTC()
	rep := &Report{
		DeliveryID: m.ID, FileName: m.FileName, ReceivedAt: m.ReceivedAt, SHA256: m.SHA256,
		SchemaVersion: schemas.SchemaVersion, ProcessedAt: now,
	}
	entry := LedgerEntry{
		DeliveryID: m.ID, Tenant: m.Tenant, State: stateDone, ClaimedAt: now, ClaimedBy: p.host,
		SHA256: m.SHA256, ProcessedAt: now,
	}
	log := p.log.With("delivery", m.ID, "tenant", m.Tenant)

	var rej *rejection
	tenant, ok := p.tenants[m.Tenant]
	switch {
	case !ok:
		rej = &rejection{reason: "unknown_tenant"}
	case p.duplicateOf(m, ledger) != "":
		orig := ledger[p.duplicateOf(m, ledger)]
		rep.Status, rep.DuplicateOf, rep.Dataset = StatusDuplicate, orig.DeliveryID, orig.Dataset
	default:
		stagingKey, err := p.ingest(ctx, m, tenant, rep)
		if errors.As(err, &rej) {
			break
		}
		if err != nil {
			return entry, err
		}
		entry.StagingKey = stagingKey
		rep.Status = StatusAccepted
		if rep.RowsRejected > 0 || len(rep.Warnings) > 0 || rep.MoreWarnings > 0 {
			rep.Status = StatusAcceptedWithWarnings
		}
	}
	if rej != nil {
		rep.Status, rep.Reason = StatusRejected, rej.reason
		rep.Message = reasonMessage(rej.reason)
		if rej.detail != "" {
			rep.Message = reasonMessage(rej.detail)
		}
		rep.MissingColumns, rep.RefusedOrganisations, rep.RefusedVSVs = rej.columns, rej.orgs, rej.vsvs
		if rej.reason == string(schemas.ReasonNotDecryptable) {
			// What was read before the integrity check failed is not the
			// sender's data: report none of it.
			rep.RowsTotal, rep.RowsAccepted, rep.RowsRejected = 0, 0, 0
			rep.Errors, rep.Warnings, rep.MoreErrors, rep.MoreWarnings = nil, nil, 0, 0
			rep.Dataset, rep.Encoding, rep.Separator = "", "", ""
		}
		rep.RowsRejected += rep.RowsAccepted
		rep.RowsAccepted = 0
	}
	entry.Status, entry.Reason, entry.Dataset, entry.DuplicateOf = rep.Status, rep.Reason, rep.Dataset, rep.DuplicateOf
	entry.RowsTotal, entry.RowsAccepted, entry.RowsRejected = rep.RowsTotal, rep.RowsAccepted, rep.RowsRejected
	if err := p.writeReport(ctx, m.Tenant, rep); err != nil {
		return entry, err
	}
	if err := p.writeEntry(ctx, entry, claim); err != nil {
		return entry, err
	}
	audit := []any{"event", "delivery.processed", "status", rep.Status, "dataset", rep.Dataset,
		"rows_total", rep.RowsTotal, "rows_accepted", rep.RowsAccepted, "rows_rejected", rep.RowsRejected,
		"sha256", m.SHA256}
	if rep.Reason != "" {
		audit = append(audit, "reason", rep.Reason)
	}
	took := time.Since(began)
	audit = append(audit, "duration_ms", took.Milliseconds(), "rows_per_second", int64(float64(rep.RowsTotal)/max(took.Seconds(), 1e-3)))
	log.Info("delivery processed", audit...)
	return entry, nil
}

// duplicateOf returns the earliest accepted delivery of the same tenant with
// the same bytes, if any. Rejected deliveries do not count: sending the same
// file again after the configuration was fixed must work.
func (p *Processor) duplicateOf(m delivery.Meta, ledger map[string]LedgerEntry) string {
	best := ""
	for id, e := range ledger {
		if e.Tenant == m.Tenant && e.SHA256 == m.SHA256 && id < m.ID && e.State == stateDone &&
			(e.Status == StatusAccepted || e.Status == StatusAcceptedWithWarnings) && (best == "" || id < best) {
			best = id
		}
	}
	return best
}

// ingest reads the delivery and, when it is acceptable, stages it; it
// returns the staging key. A *rejection error rejects the delivery; any
// other error ends the run. A file that proves not to be UTF-8 is read again
// from the start as Windows-1252 (nothing is staged before a stream ends
// cleanly, so a restart costs only time).
func (p *Processor) ingest(ctx context.Context, m delivery.Meta, t *config.Tenant, rep *Report) (string, error) {
	key, err := p.ingestAs(ctx, m, t, rep, schemas.EncodingAuto)
	if errors.Is(err, schemas.ErrNotUTF8) {
		rep.reset()
		key, err = p.ingestAs(ctx, m, t, rep, schemas.EncodingWindows1252)
	}
	var rej *rejection
	if errors.As(err, &rej) && rej.reason == reasonDataChanged {
		rep.reset() // what was read is not the sender's file: say nothing of it
	}
	return key, err
}

// reset forgets what reading the file found, and keeps what the report says
// of the delivery itself.
func (r *Report) reset() {
	*r = Report{DeliveryID: r.DeliveryID, FileName: r.FileName, ReceivedAt: r.ReceivedAt,
		SHA256: r.SHA256, SchemaVersion: r.SchemaVersion, ProcessedAt: r.ProcessedAt}
}

// classifyDecrypt turns a decryption error into a not_decryptable
// rejection with the detail that picks its message; the finer errors are
// tested before the coarser ones they come wrapped with. It returns nil for
// errors that are not the file's fault (the store failed).
func classifyDecrypt(err error) *rejection {
	detail := ""
	switch {
	case errors.Is(err, crypto.ErrNotEncrypted):
		detail = "not_encrypted"
	case errors.Is(err, crypto.ErrPassphraseOnly):
		detail = "passphrase_only"
	case errors.Is(err, crypto.ErrNoMatchingKey):
		detail = "wrong_recipient"
	case errors.Is(err, crypto.ErrNoIntegrityProtection):
		detail = "no_integrity_protection"
	case errors.Is(err, crypto.ErrDecompressionLimit):
		detail = "decompression_limit"
	case errors.Is(err, crypto.ErrCorrupt):
		detail = "corrupt"
	case errors.Is(err, crypto.ErrUnsupportedFormat):
		detail = "unsupported_format"
	default:
		return nil
	}
	return &rejection{reason: string(schemas.ReasonNotDecryptable), detail: detail}
}

// confirmRejection lets a rejection decided before the end of the plaintext
// (a header that matches no dataset, broken quoting, a dataset the tenant
// may not deliver) stand only once the rest of the message has decrypted:
// an OpenPGP message (SEIPD v1, what GnuPG writes) is authenticated only
// at its end, so what was read before may be garbage from a damaged or
// tampered message, and the tenant must be told that (not_decryptable),
// with nothing derived from that plaintext. For age, whose plaintext is
// authenticated chunk by chunk, the same order holds: damage is reported
// first. It reads the rest of plain, in constant memory; a rejection made
// at the end of the stream costs nothing more.
func confirmRejection(ctx context.Context, plain io.Reader, err error) error {
	var rej *rejection
	if !errors.As(err, &rej) || rej.reason == string(schemas.ReasonNotDecryptable) {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		_, rerr := plain.Read(buf)
		switch {
		case rerr == io.EOF:
			return err
		case rerr != nil:
			if r := classifyDecrypt(rerr); r != nil {
				return r
			}
			return fmt.Errorf("decrypt: %w", rerr)
		}
	}
}

func (p *Processor) ingestAs(ctx context.Context, m delivery.Meta, t *config.Tenant, rep *Report, enc schemas.Encoding) (_ string, err error) {
	rc, err := p.opt.Store.Get(ctx, delivery.DataKey(m.Tenant, m.ID))
	if errors.Is(err, store.ErrNotExist) {
		// Removed from the store (by a lifecycle rule, or by hand): the
		// sender must deliver again. Other deliveries go on.
		return "", &rejection{reason: reasonDataMissing}
	}
	if err != nil {
		return "", fmt.Errorf("open delivery data: %w", err)
	}
	defer rc.Close()
	// The bytes are hashed as they are read, and must be the bytes the
	// gateway received (meta.json's SHA-256) before anything is staged.
	sum := sha256.New()
	src := io.TeeReader(rc, sum)
	// A file rejected for what it holds is first checked to be the file
	// received: damage in the store is not the sender's fault.
	defer func() {
		var rej *rejection
		if !errors.As(err, &rej) || rej.reason == reasonDataChanged {
			return
		}
		if _, cerr := io.Copy(io.Discard, src); cerr == nil && hex.EncodeToString(sum.Sum(nil)) != m.SHA256 {
			p.log.Error("delivery data differs from what the gateway received", "delivery", m.ID, "tenant", m.Tenant)
			err = &rejection{reason: reasonDataChanged}
		}
	}()
	plain, err := crypto.Decrypt(src, crypto.Keyring{Age: p.opt.Identities, OpenPGP: p.opt.OpenPGPKeys})
	if err != nil {
		if rej := classifyDecrypt(err); rej != nil {
			return "", rej
		}
		return "", fmt.Errorf("decrypt: %w", err)
	}
	defer func() { err = confirmRejection(ctx, plain, err) }()
	rd, err := schemas.NewReader(plain, schemas.Options{Encoding: enc, CurrentYear: p.opt.CurrentYear, Instruments: p.opt.Instruments})
	if err != nil {
		return "", p.readError(err)
	}
	rep.Dataset = string(rd.Dataset())
	rep.Encoding = map[schemas.Encoding]string{schemas.EncodingAuto: "utf-8", schemas.EncodingWindows1252: "windows-1252"}[enc]
	rep.Separator = map[rune]string{';': "semicolon", ',': "comma", '\t': "tab", '|': "pipe"}[rd.Separator()]
	for _, w := range rd.HeaderWarnings() {
		rep.addIssue(w)
	}
	if !t.MayDeliver(string(rd.Dataset())) {
		return "", &rejection{reason: string(schemas.ReasonDatasetNotAllowed)}
	}
	var sk sink
	switch rd.Dataset() {
	case schemas.ROM:
		sk = p.newROMSink(t)
	case schemas.LVR1:
		sk = p.newLVR1Sink(t)
	default:
		return "", &rejection{reason: string(schemas.ReasonUnknownDataset)}
	}
	defer sk.close()
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", p.readError(err)
		}
		rep.RowsTotal++
		if rep.RowsTotal%ProgressRows == 0 {
			p.step(Progress{Step: StepRows, Delivery: m.ID, Rows: rep.RowsTotal})
		}
		for _, is := range row.Warnings {
			rep.addIssue(is)
		}
		if len(row.Errors) > 0 {
			rep.RowsRejected++
			for _, is := range row.Errors {
				rep.addIssue(is)
			}
			continue
		}
		rep.RowsAccepted++
		if err := sk.add(&row); err != nil {
			return "", err
		}
	}
	// The stream ended cleanly: the decrypter has authenticated the whole
	// message (age every chunk and the end of the file, OpenPGP its MDC or
	// AEAD tags and its end). Only now may anything of the delivery be
	// staged.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return "", fmt.Errorf("read delivery data: %w", err)
	}
	if hex.EncodeToString(sum.Sum(nil)) != m.SHA256 {
		p.log.Error("delivery data differs from what the gateway received", "delivery", m.ID, "tenant", m.Tenant)
		return "", &rejection{reason: reasonDataChanged}
	}
	if orgs, vsvs := sk.refused(); len(orgs) > 0 || len(vsvs) > 0 {
		return "", &rejection{reason: string(schemas.ReasonOrganisationNotAllowed), orgs: orgs, vsvs: vsvs}
	}
	if rep.RowsAccepted == 0 {
		return "", &rejection{reason: string(schemas.ReasonNoValidRows)}
	}
	key := "staging/" + string(rd.Dataset()) + "/" + m.Tenant + "/" + m.ID + ".parquet"
	pr, pw := io.Pipe()
	var g errgroup.Group
	g.Go(func() error {
		err := sk.write(pw, rep, writerOptions(p.opt.Version, map[string]string{
			"ttpgate.dataset":        string(rd.Dataset()),
			"ttpgate.schema_version": fmt.Sprint(schemas.SchemaVersion),
			"ttpgate.source_sha256":  m.SHA256,
		}))
		pw.CloseWithError(err)
		return err
	})
	putErr := p.opt.Store.Put(ctx, key, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	if err := g.Wait(); err != nil {
		return "", fmt.Errorf("stage: %w", err)
	}
	if putErr != nil {
		return "", fmt.Errorf("stage: %w", putErr)
	}
	return key, nil
}

// readError turns a reader error into a rejection where the file is at
// fault, and passes everything else (ErrNotUTF8, store failures) on.
func (p *Processor) readError(err error) error {
	if rej := classifyDecrypt(err); rej != nil {
		return rej
	}
	var fe *schemas.FileError
	if errors.As(err, &fe) {
		return &rejection{reason: string(fe.Reason), columns: fe.Columns}
	}
	return err
}

// sink pseudonymises valid rows of one dataset and stages them.
type sink interface {
	add(row *schemas.Row) error
	refused() (orgs, vsvs []string)
	// write sorts, deduplicates (the later row wins; a warning names the
	// replaced row) and writes the staging Parquet to w.
	write(w io.Writer, rep *Report, opts []parquet.WriterOption) error
	close()
}

func ptr[T any](v T) *T { return &v }

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optDate(d *schemas.Date) *int32 {
	if d == nil {
		return nil
	}
	return ptr(int32(*d))
}

func optInt(v int32) *int32 {
	if v == 0 {
		return nil
	}
	return &v
}

type refusals struct{ orgs, vsvs map[string]bool }

// pseudonymMemo remembers the last pseudonym of each kind: the rows of one
// trajectory, client or pregnancy come together, so most rows repeat the
// previous row's identifiers and need no new HMAC.
type pseudonymMemo struct {
	last map[string][3]string // kind -> organisation, value, pseudonym
}

func (m *pseudonymMemo) get(p *Processor, domain, kind, org, value string) string {
	if m.last == nil {
		m.last = map[string][3]string{}
	}
	if l, ok := m.last[kind]; ok && l[0] == org && l[1] == value {
		return l[2]
	}
	var ps string
	if org == "" { // a national identifier (BSN): not qualified by an organisation
		ps = p.opt.Pseudonymizer.Pseudonym(domain, kind, value)
	} else {
		ps = p.opt.Pseudonymizer.Pseudonym(domain, kind, org, value)
	}
	m.last[kind] = [3]string{org, value, ps}
	return ps
}

func (r *refusals) result() ([]string, []string) {
	return slices.Sorted(maps.Keys(r.orgs)), slices.Sorted(maps.Keys(r.vsvs))
}

type romSink struct {
	p      *Processor
	t      *config.Tenant
	sorter *extSorter[schemas.ROMStaged]
	memo   pseudonymMemo
	refusals
}

func (p *Processor) newROMSink(t *config.Tenant) *romSink {
	return &romSink{p: p, t: t, sorter: newExtSorter(p.opt.WorkDir, p.opt.SortRunSize, compareROM),
		refusals: refusals{orgs: map[string]bool{}, vsvs: map[string]bool{}}}
}

func (s *romSink) add(row *schemas.Row) error {
	r := row.ROM
	if !s.t.AllowsOrganisation(r.AGB) {
		s.orgs[r.AGB] = true
		return nil
	}
	if len(s.orgs) > 0 {
		return nil // the file is rejected anyway
	}
	rec := schemas.ROMStaged{
		Organisation: r.AGB,
		Traject:      s.memo.get(s.p, "rom", "traject", r.AGB, r.TrajectID),
		Instrument:   r.Instrument,
		Scale:        r.Schaal,
		Moment:       r.Meetmoment,
		Date:         optDate(r.Meetdatum),
		Score:        r.Score,
		Client:       s.memo.get(s.p, "rom", "client", r.AGB, r.ClientID),
		BirthYear:    optInt(r.Geboortejaar),
		Sex:          optString(r.Geslacht),
		Start:        int32(r.TrajectStart),
		End:          optDate(r.TrajectEind),
		Prestatie:    optString(r.Prestatie),
		RedenEinde:   optString(r.RedenEinde),
	}
	if r.BSN != "" {
		rec.BSN = ptr(s.memo.get(s.p, "rom", "bsn", "", r.BSN))
	}
	return s.sorter.add(rec, row.Line)
}

func (s *romSink) refused() ([]string, []string) { return s.result() }
func (s *romSink) close()                        { s.sorter.close() }
func (s *romSink) write(w io.Writer, rep *Report, opts []parquet.WriterOption) error {
	return writeSorted(w, s.sorter, rep, opts)
}

type lvr1Sink struct {
	p      *Processor
	t      *config.Tenant
	sorter *extSorter[schemas.LVR1Staged]
	memo   pseudonymMemo
	refusals
}

func (p *Processor) newLVR1Sink(t *config.Tenant) *lvr1Sink {
	return &lvr1Sink{p: p, t: t, sorter: newExtSorter(p.opt.WorkDir, p.opt.SortRunSize, compareLVR1),
		refusals: refusals{orgs: map[string]bool{}, vsvs: map[string]bool{}}}
}

func (s *lvr1Sink) add(row *schemas.Row) error {
	r := row.LVR1
	okOrg, okVSV := s.t.AllowsOrganisation(r.AGBPraktijk), s.t.AllowsVSV(r.VSVCode)
	if !okOrg {
		s.orgs[r.AGBPraktijk] = true
	}
	if !okVSV {
		s.vsvs[strings.ToUpper(r.VSVCode)] = true
	}
	if len(s.orgs) > 0 || len(s.vsvs) > 0 {
		return nil
	}
	rec := schemas.LVR1Staged{
		Practice:           r.AGBPraktijk,
		Pregnancy:          s.memo.get(s.p, "lvr1", "zwangerschap", r.AGBPraktijk, r.ZwangerschapID),
		Child:              r.Kindvolgnummer,
		Client:             s.memo.get(s.p, "lvr1", "client", r.AGBPraktijk, r.ClientID),
		MotherBirthYear:    optInt(r.GeboortejaarMoeder),
		Postcode4:          optString(r.Postcode4),
		VSV:                r.VSVCode,
		AdEersteConsult:    r.AdEersteConsult,
		Pariteit:           r.Pariteit,
		AantalKinderen:     r.AantalKinderen,
		VerantwBeginBaring: optString(r.VerantwBeginBaring),
		Overdracht:         optString(r.Overdracht),
		WijzeBeginBaring:   r.WijzeBeginBaring,
		Ligging:            r.Ligging,
		TypePartus:         r.TypePartus,
		PlaatsBaring:       optString(r.PlaatsBaring),
		Year:               int32(r.DatumPartus.Year()),
		AdPartus:           r.AdPartus,
		GeslachtKind:       r.GeslachtKind,
		Geboortegewicht:    r.Geboortegewicht,
		Apgar5:             r.Apgar5,
		Perineum:           optString(r.Perineum),
		Bloedverlies:       r.Bloedverlies,
		NICUOpname:         optString(r.NICUOpname),
		Sterfte:            r.Sterfte,
	}
	if r.BSNMoeder != "" {
		rec.BSN = ptr(s.memo.get(s.p, "lvr1", "bsn", "", r.BSNMoeder))
	}
	return s.sorter.add(rec, row.Line)
}

func (s *lvr1Sink) refused() ([]string, []string) { return s.result() }
func (s *lvr1Sink) close()                        { s.sorter.close() }
func (s *lvr1Sink) write(w io.Writer, rep *Report, opts []parquet.WriterOption) error {
	return writeSorted(w, s.sorter, rep, opts)
}

// writeSorted streams the sorter's deduplicated records into a Parquet file.
func writeSorted[T any](w io.Writer, s *extSorter[T], rep *Report, opts []parquet.WriterOption) error {
	pw := parquet.NewGenericWriter[T](w, opts...)
	batch := make([]T, 0, 1024)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := pw.Write(batch)
		clear(batch)
		batch = batch[:0]
		return err
	}
	err := s.each(func(rec *T) error {
		batch = append(batch, *rec)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	}, func(line int) {
		rep.addIssue(schemas.Issue{Row: line, Code: schemas.CodeDuplicateRecord, Severity: schemas.SeverityWarning})
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return pw.Close()
}

func compareROM(a, b *schemas.ROMStaged) int {
	if c := strings.Compare(a.Organisation, b.Organisation); c != 0 {
		return c
	}
	if c := strings.Compare(a.Traject, b.Traject); c != 0 {
		return c
	}
	if c := strings.Compare(a.Instrument, b.Instrument); c != 0 {
		return c
	}
	if c := strings.Compare(a.Scale, b.Scale); c != 0 {
		return c
	}
	if c := strings.Compare(a.Moment, b.Moment); c != 0 {
		return c
	}
	return compareOptInt(a.Date, b.Date)
}

func compareOptInt(a, b *int32) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	case *a < *b:
		return -1
	case *a > *b:
		return 1
	}
	return 0
}

func compareLVR1(a, b *schemas.LVR1Staged) int {
	if c := strings.Compare(a.Practice, b.Practice); c != 0 {
		return c
	}
	if c := strings.Compare(a.Pregnancy, b.Pregnancy); c != 0 {
		return c
	}
	switch {
	case a.Child < b.Child:
		return -1
	case a.Child > b.Child:
		return 1
	}
	return 0
}
