package processor

import (
	"bytes"
	"context"
	"testing"

	"github.com/ttpgate/ttpgate/internal/synth"
)

// TestProgress: a run reports its steps in order, with the rows of each
// delivery, and the summary counts the rows and times the phases.
func TestProgress(t *testing.T) {
	h := newHarness(t, romTenant("vendor", "94012345", "94054321"))
	var rom bytes.Buffer
	const rows = 2*ProgressRows + 100
	if err := synth.WriteROM(&rom, synth.Options{Rows: rows, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	done := h.deliver("vendor", "done.csv.age", h.encrypt([]byte("meetdatum;score\n")))
	h.run() // decided before the run below: not pending
	a := h.deliver("vendor", "rom.csv.age", h.encrypt(rom.Bytes()))
	b := h.deliver("vendor", "fake.age", ageHeaderOnly)

	var steps []Progress
	p := h.processor()
	p.opt.Progress = func(s Progress) { steps = append(steps, s) }
	sum, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Progress{
		{Step: StepStart, Pending: 2},
		{Step: StepDelivery, Delivery: a.ID},
		{Step: StepRows, Delivery: a.ID, Rows: ProgressRows},
		{Step: StepRows, Delivery: a.ID, Rows: 2 * ProgressRows},
		{Step: StepDone, Delivery: a.ID, Rows: rows, Status: ledgerStatus(t, h, a.ID)},
		{Step: StepDelivery, Delivery: b.ID},
		{Step: StepDone, Delivery: b.ID, Status: StatusRejected},
		{Step: StepRebuild},
	}
	if len(steps) != len(want) {
		t.Fatalf("steps %+v, want %+v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Errorf("step %d: %+v, want %+v", i, steps[i], want[i])
		}
	}
	for _, s := range steps {
		if s.Delivery == done.ID {
			t.Errorf("a delivery decided by an earlier run was reported: %+v", s)
		}
	}
	if sum.RowsTotal != rows || sum.RowsAccepted+sum.RowsRejected != rows {
		t.Errorf("summary rows: total %d, accepted %d, rejected %d; want total %d = accepted + rejected",
			sum.RowsTotal, sum.RowsAccepted, sum.RowsRejected, rows)
	}
	if sum.IngestDuration <= 0 || sum.RebuildDuration <= 0 {
		t.Errorf("phase durations: ingest %s, rebuild %s; want both measured", sum.IngestDuration, sum.RebuildDuration)
	}
}

// ageHeaderOnly looks like an age file to the gateway, and is none.
var ageHeaderOnly = []byte("age-encryption.org/v1\n-> X25519 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU\n---\n")

// ledgerStatus returns the ledger's decision on delivery id.
func ledgerStatus(t *testing.T, h *harness, id string) string {
	t.Helper()
	st, err := Statuses(context.Background(), h.st)
	if err != nil {
		t.Fatal(err)
	}
	return st[id].Status
}
