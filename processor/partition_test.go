package processor

import (
	"crypto/sha256"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// partitionState is what a reader found in one output partition: each
// file's key and the hash of its bytes.
type partitionState map[string][32]byte

// readPartitions reads every partition under prefix as an analyst's tool
// does: list a partition's files, then read each.
func readPartitions(t *testing.T, st store.Store, prefix string) map[string]partitionState {
	out := map[string]partitionState{}
	for info, err := range st.List(t.Context(), prefix) {
		if err != nil {
			t.Error(err)
			return nil
		}
		b, err := store.ReadAll(t.Context(), st, info.Key, 64<<20)
		if err != nil {
			continue // removed between list and read: not a mix
		}
		part := path.Dir(info.Key)
		if out[part] == nil {
			out[part] = partitionState{}
		}
		out[part][info.Key] = sha256.Sum256(b)
	}
	return out
}

// TestReadersSeeWholePartitions: while a processing run replaces the
// outputs on the S3 store, readers of a partition find the files of the
// old outputs or of the new ones, never some of each.
func TestReadersSeeWholePartitions(t *testing.T) {
	m := testenv.StartMinIO(t, testenv.MinIOOptions{})
	st, err := store.NewS3(t.Context(), store.S3Options{Endpoint: m.Endpoint, Bucket: m.Bucket(t),
		AccessKey: m.AccessKey, SecretKey: m.SecretKey, PartSize: store.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, t.TempDir(), st, romTenant("acme", "94012345", "94054321", "94099999"))
	fixture := filepath.Join(testenv.RepoRoot(t), "testdata", "fixtures", "rom-basic")
	deliverFile := func(name string) {
		plain, err := os.ReadFile(filepath.Join(fixture, name))
		if err != nil {
			t.Fatal(err)
		}
		h.deliver("acme", name+".age", h.encrypt(plain))
	}
	const prefix = "out/kibg/rom_outcomes/"

	deliverFile("delivery1.csv")
	h.run()
	before := readPartitions(t, st, prefix)
	deliverFile("delivery2.csv")

	var stop atomic.Bool
	var seen []map[string]partitionState
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			seen = append(seen, readPartitions(t, st, prefix))
		}
	})
	h.run()
	stop.Store(true)
	wg.Wait()
	after := readPartitions(t, st, prefix)

	changed := 0
	for part := range after {
		if !maps.Equal(before[part], after[part]) {
			changed++
		}
	}
	if changed == 0 {
		t.Fatalf("the second run changed no partition of %s; the test shows nothing", prefix)
	}
	for _, s := range seen {
		for part, files := range s {
			if !maps.Equal(files, before[part]) && !maps.Equal(files, after[part]) {
				t.Errorf("a reader of %s found %v: neither the old %v nor the new %v", part,
					slices.Sorted(maps.Keys(files)), slices.Sorted(maps.Keys(before[part])), slices.Sorted(maps.Keys(after[part])))
			}
		}
	}
	t.Logf("%d reads of %d partitions (%d changed) during the run", len(seen), len(after), changed)
}
