package processor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// TestStoreStateRejections: a delivery whose data is gone from the store,
// or differs from what the gateway received, is rejected with its own
// reason and stages nothing, and the deliveries after it are processed.
func TestStoreStateRejections(t *testing.T) {
	h := newHarness(t, romTenant("acme", "94012345", "94054321", "94099999"))
	plain, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "fixtures", "rom-basic", "delivery1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	gone := h.deliver("acme", "gone.csv.age", h.encrypt(plain))
	changed := h.deliver("acme", "changed.csv.age", h.encrypt(plain))
	damaged := h.deliver("acme", "damaged.csv.age", h.encrypt(plain))
	fine := h.deliver("acme", "fine.csv.age", h.encrypt(plain))
	ctx := t.Context()
	if err := h.st.Delete(ctx, delivery.DataKey("acme", gone.ID)); err != nil {
		t.Fatal(err)
	}
	// Another valid message in place of the one received: it decrypts, but
	// it is not what the sender delivered.
	if err := store.PutBytes(ctx, h.st, delivery.DataKey("acme", changed.ID), h.encrypt(plain)); err != nil {
		t.Fatal(err)
	}
	// One byte flipped in the store: the decryption fails, but the file
	// received was good.
	b, err := store.ReadAll(ctx, h.st, delivery.DataKey("acme", damaged.ID), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := store.PutBytes(ctx, h.st, delivery.DataKey("acme", damaged.ID), b); err != nil {
		t.Fatal(err)
	}
	sum := h.run()
	if sum.Processed != 4 || sum.Rejected != 3 || sum.AcceptedWithWarnings != 1 {
		t.Errorf("run: %+v, want 4 processed: 3 rejected, 1 accepted with warnings", sum)
	}
	for _, c := range []struct {
		m      delivery.Meta
		reason string
	}{{gone, "data_missing"}, {changed, "data_changed"}, {damaged, "data_changed"}} {
		r := h.report(c.m)
		if r.Status != StatusRejected || r.Reason != c.reason || r.RowsTotal != 0 {
			t.Errorf("%s: status %s, reason %s, %d rows; want rejected, %s, 0 rows", c.m.FileName, r.Status, r.Reason, r.RowsTotal, c.reason)
		}
	}
	if r := h.report(fine); r.Status != StatusAcceptedWithWarnings {
		t.Errorf("fine.csv.age: %s, want accepted_with_warnings", r.Status)
	}
	if keys := h.keys("staging/"); len(keys) != 1 {
		t.Errorf("staged %q, want only the fine delivery", keys)
	}
}
