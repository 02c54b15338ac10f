package processor

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// claimHarness is a harness with one delivery of the rom-basic fixture.
func claimHarness(t *testing.T) (*harness, delivery.Meta) {
	h := newHarness(t, romTenant("acme", "94012345", "94054321", "94099999"))
	plain, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "fixtures", "rom-basic", "delivery1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return h, h.deliver("acme", "d1.csv.age", h.encrypt(plain))
}

func putJSON(t *testing.T, st store.Store, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutBytes(t.Context(), st, key, b); err != nil {
		t.Fatal(err)
	}
}

// runConcurrently runs n processors at once and returns their summaries.
func runConcurrently(t *testing.T, h *harness, n int) []Summary {
	t.Helper()
	sums := make([]Summary, n)
	var wg sync.WaitGroup
	for i := range n {
		p := h.processor()
		wg.Go(func() {
			var err error
			if sums[i], err = p.Run(context.Background()); err != nil {
				t.Errorf("processor %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	return sums
}

// TestStaleClaimTakenOverOnce: a claim whose processor died is taken over
// by exactly one of the processors that find it stale; a fresh claim is
// left alone.
func TestStaleClaimTakenOverOnce(t *testing.T) {
	h, m := claimHarness(t)
	fresh := LedgerEntry{DeliveryID: m.ID, Tenant: "acme", State: stateClaimed, ClaimedAt: h.now.Add(-59 * time.Minute), ClaimedBy: "busy/1"}
	putJSON(t, h.st, ledgerKey(m.ID), fresh)
	for _, s := range runConcurrently(t, h, 3) {
		if s.Processed != 0 || s.SkippedClaimed != 1 {
			t.Errorf("with a fresh claim: %+v, want 0 processed, 1 skipped", s)
		}
	}

	stale := fresh
	stale.ClaimedAt, stale.ClaimedBy = h.now.Add(-61*time.Minute), "dead/1"
	putJSON(t, h.st, ledgerKey(m.ID), stale)
	processed := 0
	for _, s := range runConcurrently(t, h, 4) {
		processed += s.Processed
	}
	if processed != 1 {
		t.Errorf("%d processors processed the stale delivery, want exactly 1", processed)
	}
	if n := strings.Count(h.logs.String(), `"msg":"took over a stale claim"`); n != 1 {
		t.Errorf("%d take-overs logged, want 1", n)
	}
	b, err := store.ReadAll(t.Context(), h.st, ledgerKey(m.ID), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var e LedgerEntry
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if e.State != stateDone || e.Status != StatusAcceptedWithWarnings || e.ClaimedBy == "dead/1" {
		t.Errorf("ledger entry %+v, want done, accepted_with_warnings, claimed by a live processor", e)
	}
}

// TestRebuildLock: a run waits for a rebuild lock another processor holds,
// takes over one that expired or cannot be read, and leaves none behind.
func TestRebuildLock(t *testing.T) {
	h, _ := claimHarness(t)
	ctx := t.Context()
	held := lockDoc{Holder: "other/1", Token: "t", Acquired: h.now, Expires: h.now.Add(time.Hour)}
	putJSON(t, h.st, rebuildLock, held)

	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	sum, err := h.processor().Run(short)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "lock locks/rebuild.json") {
		t.Errorf("run while another holds the lock: %v, want the lock's deadline error", err)
	}
	if sum.Processed != 1 || len(sum.OutputsWritten) != 0 {
		t.Errorf("run while another holds the lock: %+v, want the delivery processed and no output written", sum)
	}
	if !strings.Contains(h.logs.String(), `"msg":"waiting for another processor","component":"processor","lock":"locks/rebuild.json","holder":"other/1"`) {
		t.Errorf("no waiting message in the log:\n%s", h.logs)
	}

	for _, lock := range []any{
		lockDoc{Holder: "dead/1", Token: "t", Acquired: h.now.Add(-2 * time.Hour), Expires: h.now.Add(-time.Hour)},
		"not a lock",
	} {
		putJSON(t, h.st, rebuildLock, lock)
		before := strings.Count(h.logs.String(), "took over an expired lock")
		sum := h.run()
		if strings.Count(h.logs.String(), "took over an expired lock") != before+1 {
			t.Errorf("lock %v: not taken over", lock)
		}
		if _, doc, err := h.processor().readLock(ctx, rebuildLock); err != nil || !doc.Released {
			t.Errorf("after the run the lock is %+v (%v), want released", doc, err)
		}
		if lock == "not a lock" && sum.OutputsUnchanged == 0 {
			t.Errorf("second rebuild: %+v, want its outputs unchanged", sum)
		}
	}
}

// TestLockLostAfterExpiry: a processor whose lock expired and was taken over
// can neither renew it (so it publishes nothing) nor release it (so the new
// holder keeps it); a released lock is taken without a warning.
func TestLockLostAfterExpiry(t *testing.T) {
	h, _ := claimHarness(t)
	ctx := t.Context()
	p, q := h.processor(), h.processor()
	pl, err := p.acquire(ctx, rebuildLock, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.renew(ctx, pl, time.Hour); err != nil {
		t.Fatalf("renew of a held lock: %v", err)
	}
	h.now = h.now.Add(2 * time.Hour) // p stalled past its lock's expiry
	ql, err := q.acquire(ctx, rebuildLock, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.renew(ctx, pl, time.Hour); err == nil || !strings.Contains(err.Error(), "lost") {
		t.Errorf("renew of a lock taken over: %v, want lost", err)
	}
	p.release(pl)
	if _, doc, err := q.readLock(ctx, rebuildLock); err != nil || doc.Token != ql.doc.Token || doc.Released {
		t.Errorf("after the old holder's release the lock is %+v (%v), want still q's", doc, err)
	}
	q.release(ql)
	before := strings.Count(h.logs.String(), "took over an expired lock")
	rl, err := p.acquire(ctx, rebuildLock, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.release(rl)
	if after := strings.Count(h.logs.String(), "took over an expired lock"); before != 1 || after != 1 {
		t.Errorf("%d take-over warnings, then %d; want q's one only:\n%s", before, after, h.logs)
	}
}

// TestDecisionNeedsTheClaim: a processor whose claim was taken over while
// it worked does not record its decision over the new holder's claim.
func TestDecisionNeedsTheClaim(t *testing.T) {
	h, m := claimHarness(t)
	ctx := t.Context()
	p := h.processor()
	claim, err := p.claim(ctx, m, false)
	if err != nil || claim == "" {
		t.Fatalf("claim: %q, %v", claim, err)
	}
	other := LedgerEntry{DeliveryID: m.ID, Tenant: "acme", State: stateClaimed, ClaimedAt: h.now, ClaimedBy: "other/1"}
	putJSON(t, h.st, ledgerKey(m.ID), other)
	if _, err := p.processOne(ctx, m, map[string]LedgerEntry{}, claim); !errors.Is(err, errLostClaim) {
		t.Errorf("processOne after the claim was taken: %v, want errLostClaim", err)
	}
	e, err := p.readEntry(ctx, ledgerKey(m.ID))
	if err != nil || e.ClaimedBy != "other/1" || e.State != stateClaimed {
		t.Errorf("ledger entry %+v (%v), want the other processor's claim untouched", e, err)
	}
}
