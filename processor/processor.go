// Package processor runs ttpgate's batch: for every landed delivery not yet
// in the ledger it decrypts, reads, validates, authorises, pseudonymises and
// stages the rows, writes a feedback report to the tenant's outbox, and then
// rebuilds every output table from all staged records.
package processor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/schemas"
)

// Options configure a Processor.
type Options struct {
	Store   store.Store
	Tenants []config.Tenant
	// Identities decrypt age files and OpenPGPKeys OpenPGP messages (see
	// crypto.Decrypt); at least one key of either kind is required. A
	// delivery in a format without keys is rejected (not_decryptable,
	// unsupported_format).
	Identities    []age.Identity
	OpenPGPKeys   []*crypto.OpenPGPKey
	Pseudonymizer *crypto.Pseudonymizer
	// MinCell is the smallest published count (default 10).
	MinCell int
	// Instruments is the instrument table (default schemas.DefaultInstruments).
	Instruments []schemas.Instrument
	// Windows of the ROM pre and post measurements in days (defaults 90, 21, 42, 21).
	PreBefore, PreAfter, PostBefore, PostAfter int
	// ClaimTimeout: a claim older than this is taken as abandoned (default 1h).
	ClaimTimeout time.Duration
	// WorkDir holds temporary files of pseudonymised records (default os.TempDir()).
	WorkDir string
	// SortRunSize is how many records are sorted in memory before spilling a
	// run to WorkDir (default 100,000).
	SortRunSize int
	Logger      *slog.Logger
	Version     string
	// Now returns the current time (time.Now by default); tests fix it.
	Now func() time.Time
	// CurrentYear bounds birth years (default: the year of Now()).
	CurrentYear int
	// Progress, when set, is told how far a run is as it goes, from the
	// goroutine that called Run: for a progress display. It must return
	// quickly.
	Progress func(Progress)
}

// Progress is one step of a run, reported to Options.Progress.
type Progress struct {
	Step     Step
	Pending  int    // StepStart: deliveries the run found to process
	Delivery string // StepDelivery, StepRows, StepDone: the delivery
	Rows     int64  // StepRows, StepDone: rows of it read so far
	Status   string // StepDone: what was decided ("" when another processor had claimed it)
}

// Step is what a Progress reports.
type Step int

const (
	StepStart    Step = iota // the deliveries are listed: Pending is known
	StepDelivery             // Delivery's processing begins
	StepRows                 // Rows rows of Delivery read so far (every ProgressRows rows)
	StepDone                 // Delivery is decided, or skipped (claimed by another processor)
	StepRebuild              // the outputs are being rebuilt
)

// ProgressRows is how often a run reports the rows read of a delivery.
const ProgressRows = 4096

func (p *Processor) step(s Progress) {
	if p.opt.Progress != nil {
		p.opt.Progress(s)
	}
}

// Processor is one configured processor. A Run is safe to repeat and to
// interrupt: the ledger remembers what was decided.
type Processor struct {
	opt     Options
	tenants map[string]*config.Tenant
	instr   *schemas.InstrumentTable
	log     *slog.Logger
	host    string
	// fence, when set, is called right before outputs are published and
	// fails when this processor may no longer publish.
	fence func(context.Context) error
}

// New checks opt and returns a Processor.
func New(opt Options) (*Processor, error) {
	if opt.Store == nil {
		return nil, errors.New("processor: no store")
	}
	if len(opt.Identities) == 0 && len(opt.OpenPGPKeys) == 0 {
		return nil, errors.New("processor: no decryption key (age identity or OpenPGP key)")
	}
	if opt.Pseudonymizer == nil {
		return nil, errors.New("processor: no pseudonymisation key")
	}
	if opt.MinCell <= 0 {
		opt.MinCell = 10
	}
	if opt.Instruments == nil {
		opt.Instruments = schemas.DefaultInstruments()
	}
	if opt.PreBefore == 0 && opt.PreAfter == 0 && opt.PostBefore == 0 && opt.PostAfter == 0 {
		opt.PreBefore, opt.PreAfter, opt.PostBefore, opt.PostAfter = 90, 21, 42, 21
	}
	if opt.ClaimTimeout <= 0 {
		opt.ClaimTimeout = time.Hour
	}
	if opt.WorkDir == "" {
		opt.WorkDir = os.TempDir()
	}
	if opt.SortRunSize <= 0 {
		opt.SortRunSize = 100_000
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.CurrentYear == 0 {
		opt.CurrentYear = opt.Now().Year()
	}
	if opt.Version == "" {
		opt.Version = "dev"
	}
	p := &Processor{
		opt:     opt,
		tenants: map[string]*config.Tenant{},
		instr:   schemas.NewInstrumentTable(opt.Instruments),
		log:     opt.Logger.With("component", "processor"),
	}
	for i := range opt.Tenants {
		p.tenants[opt.Tenants[i].ID] = &opt.Tenants[i]
	}
	// Host and process id say where a claim came from; the random part
	// tells apart containers that share both (pid 1, a reused name).
	host, _ := os.Hostname()
	p.host = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), strings.ToLower(rand.Text()[:6]))
	return p, nil
}

// Summary is what a run did.
type Summary struct {
	Processed            int
	Accepted             int
	AcceptedWithWarnings int
	Duplicate            int
	Rejected             int
	SkippedClaimed       int      // claimed by another running processor
	OutputsWritten       []string // keys of output files written (changed)
	OutputsRemoved       []string
	OutputsUnchanged     int
	// Rows of the deliveries processed: RowsTotal = RowsAccepted + RowsRejected.
	RowsTotal, RowsAccepted, RowsRejected int64
	// How long the phases took: processing the deliveries (with listing
	// them), and rebuilding the outputs.
	IngestDuration, RebuildDuration time.Duration
}

// Run processes every pending delivery, then rebuilds the outputs. It
// returns an error only when the run itself could not complete (the store
// failed, the context ended); decisions about single deliveries are in the
// reports and the summary.
func (p *Processor) Run(ctx context.Context) (Summary, error) {
	var sum Summary
	start := time.Now()
	metas, err := delivery.List(ctx, p.opt.Store)
	if err != nil {
		return sum, fmt.Errorf("list deliveries: %w", err)
	}
	slices.SortFunc(metas, func(a, b delivery.Meta) int { return strings.Compare(a.ID, b.ID) })
	ledger, err := p.readLedger(ctx)
	if err != nil {
		return sum, err
	}
	if p.opt.Progress != nil {
		pending := 0
		for _, m := range metas {
			e, ok := ledger[m.ID]
			claimedNow := ok && e.State == stateClaimed && p.opt.Now().Sub(e.ClaimedAt) < p.opt.ClaimTimeout
			if !ok || e.State != stateDone && !claimedNow {
				pending++
			}
		}
		p.step(Progress{Step: StepStart, Pending: pending})
	}
	for _, m := range metas {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		e, ok := ledger[m.ID]
		if ok && e.State == stateDone {
			continue
		}
		if ok && e.State == stateClaimed && p.opt.Now().Sub(e.ClaimedAt) < p.opt.ClaimTimeout {
			sum.SkippedClaimed++
			continue
		}
		// Before the claim, so that the claim does not age while it waits.
		if err := p.awaitEarlierCopies(ctx, m, metas, ledger); err != nil {
			return sum, err
		}
		claim, err := p.claim(ctx, m, ok)
		if err != nil {
			return sum, err
		}
		if claim == "" {
			sum.SkippedClaimed++
			p.step(Progress{Step: StepDone, Delivery: m.ID})
			continue
		}
		p.step(Progress{Step: StepDelivery, Delivery: m.ID})
		entry, err := p.processOne(ctx, m, ledger, claim)
		if errors.Is(err, errLostClaim) {
			// Taken over after this processor was thought dead: the
			// other one decides (the same way), and records it.
			p.log.Warn("lost the claim of a delivery while processing it", "delivery", m.ID, "tenant", m.Tenant)
			sum.SkippedClaimed++
			p.step(Progress{Step: StepDone, Delivery: m.ID})
			continue
		}
		if err != nil {
			return sum, fmt.Errorf("delivery %s: %w", m.ID, err)
		}
		ledger[m.ID] = entry
		p.step(Progress{Step: StepDone, Delivery: m.ID, Rows: entry.RowsTotal, Status: entry.Status})
		sum.Processed++
		sum.RowsTotal += entry.RowsTotal
		sum.RowsAccepted += entry.RowsAccepted
		sum.RowsRejected += entry.RowsRejected
		switch entry.Status {
		case StatusAccepted:
			sum.Accepted++
		case StatusAcceptedWithWarnings:
			sum.AcceptedWithWarnings++
		case StatusDuplicate:
			sum.Duplicate++
		case StatusRejected:
			sum.Rejected++
		}
	}
	sum.IngestDuration = time.Since(start)
	p.step(Progress{Step: StepRebuild})
	start = time.Now()
	if err := p.rebuildLocked(ctx, &sum); err != nil {
		return sum, fmt.Errorf("rebuild outputs: %w", err)
	}
	sum.RebuildDuration = time.Since(start)
	return sum, nil
}

// rebuildLocked rebuilds the outputs under the rebuild lock, from the
// deliveries and the ledger as they are once the lock is held. Processors
// running at once thus rebuild one after the other, each from a ledger that
// holds at least what the one before saw, so the last rebuild includes
// every delivery that any of them decided.
func (p *Processor) rebuildLocked(ctx context.Context, sum *Summary) error {
	lock, err := p.acquire(ctx, rebuildLock, p.opt.ClaimTimeout)
	if err != nil {
		return err
	}
	defer p.release(lock)
	// Outputs are published only while the lock is still ours, renewed
	// for the time publishing takes: a processor that stalled past the
	// lock's expiry must not overwrite a newer rebuild.
	p.fence = func(ctx context.Context) error { return p.renew(ctx, lock, p.opt.ClaimTimeout) }
	defer func() { p.fence = nil }()
	metas, err := delivery.List(ctx, p.opt.Store)
	if err != nil {
		return fmt.Errorf("list deliveries: %w", err)
	}
	slices.SortFunc(metas, func(a, b delivery.Meta) int { return strings.Compare(a.ID, b.ID) })
	ledger, err := p.readLedger(ctx)
	if err != nil {
		return err
	}
	return p.rebuild(ctx, metas, ledger, sum)
}
