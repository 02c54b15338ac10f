package processor

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ttpgate/ttpgate/internal/synth"
)

// TestOutputsAreByteIdentical processes the same deliveries again — in the
// same store after removing everything derived, and in a second store — and
// expects byte-identical output files.
func TestOutputsAreByteIdentical(t *testing.T) {
	tenants := []string{"vendor", "praktijk"}
	var rom, lvr bytes.Buffer
	if err := synth.WriteROM(&rom, synth.Options{Rows: 5000, Seed: 31, Dialect: synth.ExcelNL}); err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteLVR1(&lvr, synth.Options{Rows: 3000, Seed: 32}); err != nil {
		t.Fatal(err)
	}
	newH := func() *harness {
		return newHarness(t, romTenant(tenants[0], "94012345", "94054321"),
			lvr1Tenant(tenants[1], []string{"03012345"}, []string{"VSV-UTR-01"}))
	}
	a := newH()
	romCT, lvrCT := a.encrypt(rom.Bytes()), a.encrypt(lvr.Bytes())
	a.deliver("vendor", "rom.csv.age", romCT)
	a.deliver("praktijk", "lvr1.csv.age", lvrCT)
	a.run()
	first := outputs(t, a)
	if len(first) < 6 {
		t.Fatalf("only %d output files", len(first))
	}

	// Again in the same store, from the landed deliveries alone.
	ctx := context.Background()
	for _, prefix := range []string{"ledger/", "staging/", "outbox/", "out/"} {
		for _, k := range a.keys(prefix) {
			if err := a.st.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.run()
	for k, b := range outputs(t, a) {
		if !bytes.Equal(b, first[k]) {
			t.Errorf("%s differs after processing the same deliveries again", k)
		}
	}

	// In another store: the delivery ids differ, so the operators' table
	// does; every aggregate output is the same.
	b := newH()
	b.id = a.id
	b.deliver("vendor", "rom.csv.age", romCT)
	b.deliver("praktijk", "lvr1.csv.age", lvrCT)
	b.run()
	second := outputs(t, b)
	for k, v := range first {
		if strings.HasPrefix(k, tableDeliveries) {
			continue
		}
		if !bytes.Equal(v, second[k]) {
			t.Errorf("%s differs between two stores with the same deliveries", k)
		}
	}
	if len(second) != len(first) {
		t.Errorf("second store has %d output files, want %d", len(second), len(first))
	}
	// A run without new deliveries rewrites nothing.
	if sum := b.run(); len(sum.OutputsWritten) != 0 || sum.OutputsUnchanged != len(second) {
		t.Errorf("idle run wrote %v, %d unchanged; want nothing written, %d unchanged", sum.OutputsWritten, sum.OutputsUnchanged, len(second))
	}
}

func outputs(t *testing.T, h *harness) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, k := range h.keys("out/") {
		b, err := readKey(h, k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}
