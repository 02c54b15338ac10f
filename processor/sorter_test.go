package processor

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/ttpgate/ttpgate/internal/synth"
)

// TestExternalSortMatchesInMemory processes the same deliveries twice: once
// sorted in memory, once with runs of 7 records (hundreds of runs, merged
// in several passes of at most maxFanIn). Staging files, outputs and
// reports must be byte-identical, duplicates within the file included.
func TestExternalSortMatchesInMemory(t *testing.T) {
	var rom bytes.Buffer
	if err := synth.WriteROM(&rom, synth.Options{Rows: 3000, Seed: 21}); err != nil {
		t.Fatal(err)
	}
	// Repeat a slice of rows at the end: later rows with the same identity
	// win and the earlier ones are reported as duplicates.
	lines := strings.SplitAfter(rom.String(), "\n")
	data := rom.String() + strings.Join(lines[100:160], "")

	results := map[int]map[string][]byte{}
	first := newHarness(t)
	ciphertext := first.encrypt([]byte(data)) // the same bytes for both runs
	for _, runSize := range []int{1 << 20, 7} {
		h := newHarness(t, romTenant("vendor", "94012345", "94054321"))
		h.id = first.id
		h.sortRun = runSize
		m := h.deliver("vendor", "rom.csv.age", ciphertext)
		h.run()
		files := map[string][]byte{}
		for _, k := range h.keys("") {
			if strings.HasPrefix(k, "staging/") || strings.HasPrefix(k, "out/kibg/") || strings.HasPrefix(k, "outbox/") {
				b, err := readKey(h, k)
				if err != nil {
					t.Fatal(err)
				}
				files[k] = b
			}
		}
		r := h.report(m)
		dups := 0
		for _, w := range r.Warnings {
			if w.Code == "duplicate_record" {
				dups++
			}
		}
		if dups != 60 {
			t.Errorf("run size %d: %d duplicate_record warnings, want 60", runSize, dups)
		}
		results[runSize] = files
	}
	a, b := results[1<<20], results[7]
	ka, kb := keysOf(a), keysOf(b)
	if len(ka) != len(kb) {
		t.Fatalf("files differ: %v vs %v", ka, kb)
	}
	for i := range ka {
		if !strings.HasPrefix(ka[i], "staging/") && !strings.HasPrefix(ka[i], "out/") {
			continue // reports name the delivery id, which differs per store
		}
		// Staging keys hold the delivery id; compare by position.
		if !bytes.Equal(a[ka[i]], b[kb[i]]) {
			t.Errorf("%s differs between in-memory and external sort", ka[i])
		}
	}
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
