package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
)

// Delivery statuses, as in the feedback report.
const (
	StatusAccepted             = "accepted"
	StatusAcceptedWithWarnings = "accepted_with_warnings"
	StatusDuplicate            = "duplicate"
	StatusRejected             = "rejected"
)

const (
	stateClaimed = "claimed"
	stateDone    = "done"
)

// LedgerEntry is ledger/<delivery-id>.json: the processing state of one
// delivery. It is created with a create-if-absent write when a processor
// claims the delivery, and replaced when the decision is made.
type LedgerEntry struct {
	DeliveryID   string    `json:"delivery_id"`
	Tenant       string    `json:"tenant"`
	State        string    `json:"state"`
	ClaimedAt    time.Time `json:"claimed_at"`
	ClaimedBy    string    `json:"claimed_by"`
	Status       string    `json:"status,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	Dataset      string    `json:"dataset,omitempty"`
	SHA256       string    `json:"sha256,omitempty"`
	DuplicateOf  string    `json:"duplicate_of,omitempty"`
	RowsTotal    int64     `json:"rows_total"`
	RowsAccepted int64     `json:"rows_accepted"`
	RowsRejected int64     `json:"rows_rejected"`
	StagingKey   string    `json:"staging_key,omitempty"`
	ProcessedAt  time.Time `json:"processed_at,omitzero"`
}

func ledgerKey(id string) string { return "ledger/" + id + ".json" }

func (p *Processor) readLedger(ctx context.Context) (map[string]LedgerEntry, error) {
	out := map[string]LedgerEntry{}
	for info, err := range p.opt.Store.List(ctx, "ledger/") {
		if err != nil {
			return nil, fmt.Errorf("list ledger: %w", err)
		}
		if !strings.HasSuffix(info.Key, ".json") {
			continue
		}
		e, err := p.readEntry(ctx, info.Key)
		if err != nil {
			return nil, err
		}
		out[e.DeliveryID] = e
	}
	return out, nil
}

func (p *Processor) readEntry(ctx context.Context, key string) (LedgerEntry, error) {
	b, err := store.ReadAll(ctx, p.opt.Store, key, 1<<20)
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("read ledger: %w", err)
	}
	var e LedgerEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return LedgerEntry{}, fmt.Errorf("parse %s: %w", key, err)
	}
	if ledgerKey(e.DeliveryID) != key {
		return LedgerEntry{}, fmt.Errorf("parse %s: delivery id does not match its key", key)
	}
	return e, nil
}

// errLostClaim: another processor took the claim over (it thought this one
// dead) before the decision was recorded.
var errLostClaim = errors.New("lost the claim")

// claim takes a delivery for this processor and returns the version (ETag)
// of its claim, or "" when another processor has it. With a create-if-absent
// write exactly one of several processors wins a fresh delivery. A stale
// claim (a processor that died while holding it) is taken over with a
// compare-and-swap on the version of the claim found stale, so of several
// processors that find it stale exactly one wins too.
func (p *Processor) claim(ctx context.Context, m delivery.Meta, stale bool) (string, error) {
	e := LedgerEntry{DeliveryID: m.ID, Tenant: m.Tenant, State: stateClaimed, ClaimedAt: p.opt.Now().UTC(), ClaimedBy: p.host, SHA256: m.SHA256}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return "", err
	}
	key := ledgerKey(m.ID)
	if stale {
		return p.retake(ctx, m, key, b)
	}
	err = p.opt.Store.Create(ctx, key, bytes.NewReader(b))
	if errors.Is(err, store.ErrExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", m.ID, err)
	}
	return p.claimVersion(ctx, m, key)
}

// claimVersion returns the version of the claim just written. A claim is
// taken over only when it has aged for claim_timeout, so the version read
// now is ours.
func (p *Processor) claimVersion(ctx context.Context, m delivery.Meta, key string) (string, error) {
	info, err := p.opt.Store.Stat(ctx, key)
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", m.ID, err)
	}
	return info.ETag, nil
}

// retake replaces a stale claim by ours, if it is still the stale one.
func (p *Processor) retake(ctx context.Context, m delivery.Meta, key string, claim []byte) (string, error) {
	info, err := p.opt.Store.Stat(ctx, key)
	if errors.Is(err, store.ErrNotExist) {
		return p.claim(ctx, m, false)
	}
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", m.ID, err)
	}
	// Read after Stat: if the entry changed in between, the Replace below
	// fails on the version, whatever was read.
	cur, err := p.readEntry(ctx, key)
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", m.ID, err)
	}
	if cur.State != stateClaimed || p.opt.Now().Sub(cur.ClaimedAt) < p.opt.ClaimTimeout {
		return "", nil // decided, or claimed afresh by another processor
	}
	err = p.opt.Store.Replace(ctx, key, bytes.NewReader(claim), info.ETag)
	if errors.Is(err, store.ErrChanged) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", m.ID, err)
	}
	p.log.Warn("took over a stale claim", "delivery", m.ID, "tenant", m.Tenant, "claimed_by", cur.ClaimedBy, "claimed_at", cur.ClaimedAt)
	return p.claimVersion(ctx, m, key)
}

// awaitEarlierCopies waits until every earlier delivery of the tenant with
// the same bytes as m is decided, and brings their ledger entries up to
// date: whether m is a duplicate depends on them. Another processor may be
// deciding one right now; one whose claim goes stale is decided by nobody
// until a later run, and m is then judged without it.
func (p *Processor) awaitEarlierCopies(ctx context.Context, m delivery.Meta, metas []delivery.Meta, ledger map[string]LedgerEntry) error {
	for _, o := range metas {
		if o.ID >= m.ID || o.Tenant != m.Tenant || o.SHA256 != m.SHA256 {
			continue
		}
		for ledger[o.ID].State != stateDone {
			e, err := p.readEntry(ctx, ledgerKey(o.ID))
			if errors.Is(err, store.ErrNotExist) {
				break // not claimed by anyone: a later run decides it
			}
			if err != nil {
				return err
			}
			ledger[o.ID] = e
			if e.State == stateDone || p.opt.Now().Sub(e.ClaimedAt) >= p.opt.ClaimTimeout {
				break
			}
			t := time.NewTimer(lockPoll)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	return nil
}

func (p *Processor) writeEntry(ctx context.Context, e LedgerEntry, claim string) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	err = p.opt.Store.Replace(ctx, ledgerKey(e.DeliveryID), bytes.NewReader(b), claim)
	if errors.Is(err, store.ErrChanged) {
		return errLostClaim
	}
	return err
}

// Statuses returns the ledger entries of every delivery the ledger knows,
// by delivery id: what became of each.
func Statuses(ctx context.Context, st store.Store) (map[string]LedgerEntry, error) {
	p := &Processor{opt: Options{Store: st}}
	return p.readLedger(ctx)
}
