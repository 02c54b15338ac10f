package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// The unit tests of Upload run without network: a Dropzone over a local
// store, driven by WriteAt calls as pkg/sftp's workers make them.

const upChunk = 32 << 10 // what OpenSSH's sftp writes per request

var upSession = Session{ID: "s1", Tenant: "acme", Channel: delivery.ChannelSFTP, RemoteAddr: "127.0.0.1:50000",
	KeyFingerprint: "SHA256:test"}

type upZone struct {
	d    *Dropzone
	st   *store.Local
	dir  string
	logs *testenv.SyncBuffer
}

func newUpZone(t *testing.T, maxFileSize int64) *upZone {
	t.Helper()
	dir := t.TempDir()
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Tenants: []config.Tenant{{ID: "acme", Datasets: []string{"rom"}}}}
	cfg.Gateway.Limits.MaxFileSize = config.ByteSize(maxFileSize)
	logs := &testenv.SyncBuffer{}
	return &upZone{d: NewDropzone(st, cfg, slog.New(slog.NewJSONHandler(logs, nil))), st: st, dir: dir, logs: logs}
}

func (z *upZone) start(t *testing.T, name string) *Upload {
	t.Helper()
	u, err := z.d.StartUpload(t.Context(), upSession, name)
	if err != nil {
		t.Fatalf("StartUpload(%q): %v", name, err)
	}
	return u
}

// keys lists every object in the store.
func (z *upZone) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	for info, err := range z.st.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

// temps lists the store's temporary files (objects being written).
func (z *upZone) temps(t *testing.T) []string {
	t.Helper()
	return upTempFiles(t, z.dir)
}

func upTempFiles(t testing.TB, storeDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(storeDir, ".tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// assertNothingStored checks that a refused or aborted upload left neither
// an object nor a temporary file, and that it is no longer in progress.
func (z *upZone) assertNothingStored(t *testing.T) {
	t.Helper()
	if k := z.keys(t); len(k) != 0 {
		t.Errorf("store holds %v, want nothing", k)
	}
	if tmp := z.temps(t); len(tmp) != 0 {
		t.Errorf(".tmp holds %v, want nothing", tmp)
	}
	z.d.mu.Lock()
	n := len(z.d.active)
	z.d.mu.Unlock()
	if n != 0 {
		t.Errorf("%d uploads in progress, want 0", n)
	}
}

func upSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// commit finishes u, commits it and returns the delivery's metadata and data.
func (z *upZone) commit(t *testing.T, u *Upload) (delivery.Meta, []byte) {
	t.Helper()
	p, err := u.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	m, err := z.d.CommitUpload(context.Background(), upSession, p, u.Name)
	if err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	b, err := store.ReadAll(context.Background(), z.st, delivery.DataKey(m.Tenant, m.ID), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

func upWrite(t *testing.T, u *Upload, p []byte, off int64) {
	t.Helper()
	n, err := u.WriteAt(p, off)
	if err != nil || n != len(p) {
		t.Fatalf("WriteAt(%d bytes at %d) = %d, %v; want %d, nil", len(p), off, n, err, len(p))
	}
}

// TestUploadOutOfOrder writes 32 KiB chunks from many goroutines in random
// order, as pkg/sftp's workers do, each reusing its buffer as soon as
// WriteAt returns; the stored data must be the input, byte for byte.
func TestUploadOutOfOrder(t *testing.T) {
	for _, size := range []int{8 << 20, 8<<20 + 12345, ReorderWindow - 1} {
		t.Run(fmt.Sprintf("%d bytes", size), func(t *testing.T) {
			z := newUpZone(t, 1<<30)
			data := ageBytes(size)
			u := z.start(t, "ooo.csv.age")
			offsets := make(chan int, (size+upChunk-1)/upChunk)
			for _, i := range rand.Perm((size + upChunk - 1) / upChunk) {
				offsets <- i * upChunk
			}
			close(offsets)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for range 16 {
				wg.Go(func() {
					buf := make([]byte, upChunk)
					for off := range offsets {
						p := buf[:copy(buf, data[off:min(off+upChunk, size)])]
						if _, err := u.WriteAt(p, int64(off)); err != nil {
							errs <- err
							return
						}
						for i := range p {
							p[i] = 0xEE // pkg/sftp reuses its packet buffers
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("WriteAt: %v", err)
			}
			if got := u.Size(); got != int64(size) {
				t.Errorf("Size() = %d, want %d", got, size)
			}
			m, stored := z.commit(t, u)
			want := upSHA256(data)
			if got := upSHA256(stored); got != want {
				t.Errorf("stored data sha256 %s, want %s", got, want)
			}
			if m.SHA256 != want || m.Size != int64(size) || m.Format != "age" || m.FileName != "ooo.csv.age" {
				t.Errorf("meta sha256 %s size %d format %s file %s, want %s %d age ooo.csv.age", m.SHA256, m.Size, m.Format, m.FileName, want, size)
			}
			if got := z.keys(t); len(got) != 2 {
				t.Errorf("store keys %v, want data and meta.json", got)
			}
		})
	}
}

// TestUploadWindow: the bytes held ahead of a gap are bounded by
// ReorderWindow; the write that would pass it is refused, and the upload
// leaves nothing behind.
func TestUploadWindow(t *testing.T) {
	z := newUpZone(t, 1<<30)
	u := z.start(t, "w.age")
	data := ageBytes(upChunk)
	upWrite(t, u, data[:64], 0) // in order: the header is checked, staging runs
	// Leave [64, 64+upChunk) open and fill the window behind the gap exactly.
	base := int64(64 + upChunk)
	for i := range int64(ReorderWindow / upChunk) {
		upWrite(t, u, data, base+i*upChunk)
	}
	n, err := u.WriteAt(data[:1], base+ReorderWindow)
	if n != 0 || !errors.Is(err, errWindow) {
		t.Fatalf("write past the window = %d, %v; want 0, %v", n, err, errWindow)
	}
	if got := reasonOf(err); got != "protocol" {
		t.Errorf("reason %q, want protocol", got)
	}
	// Sticky: even the write that fills the gap is refused now.
	if _, err := u.WriteAt(data, 64); !errors.Is(err, errWindow) {
		t.Errorf("write after refusal: %v, want %v", err, errWindow)
	}
	if _, err := u.Finish(); !errors.Is(err, errWindow) {
		t.Errorf("Finish: %v, want %v", err, errWindow)
	}
	z.assertNothingStored(t)
}

// TestUploadRefusedWrites covers the writes and ends an upload refuses;
// each leaves nothing in the store.
func TestUploadRefusedWrites(t *testing.T) {
	data := ageBytes(4 * upChunk)
	for _, tc := range []struct {
		name   string
		writes [][2]int // [start, end) of data, in the order written
		// writeErr is the error of the last write (nil: all succeed).
		writeErr error
		// finishErr is the error of Finish.
		finishErr error
	}{
		{"overlap with data received", [][2]int{{0, 100}, {50, 150}}, errOverlap, errOverlap},
		{"rewrite of the start", [][2]int{{0, upChunk}, {upChunk, 2 * upChunk}, {0, upChunk}}, errOverlap, errOverlap},
		{"same offset twice ahead", [][2]int{{0, 64}, {upChunk, 2 * upChunk}, {upChunk, 2 * upChunk}}, errWindow, errWindow},
		{"overlapping writes ahead", [][2]int{{upChunk, 2 * upChunk}, {upChunk + 100, 2*upChunk + 100}, {0, upChunk}, {2*upChunk + 100, 3 * upChunk}}, nil, errIncomplete},
		{"gap at the end", [][2]int{{0, 64}, {128, 200}}, nil, errIncomplete},
		{"gap at the start", [][2]int{{64, upChunk}}, nil, errIncomplete},
		{"empty", nil, nil, delivery.ErrEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := newUpZone(t, 1<<30)
			u := z.start(t, "r.age")
			var err error
			for i, w := range tc.writes {
				_, err = u.WriteAt(data[w[0]:w[1]], int64(w[0]))
				if i < len(tc.writes)-1 && err != nil {
					t.Fatalf("write %d [%d,%d): %v", i, w[0], w[1], err)
				}
			}
			if !errors.Is(err, tc.writeErr) {
				t.Errorf("last write: %v, want %v", err, tc.writeErr)
			}
			p, err := u.Finish()
			if p != nil || !errors.Is(err, tc.finishErr) {
				t.Errorf("Finish = %v, %v; want nil, %v", p, err, tc.finishErr)
			}
			z.assertNothingStored(t)
		})
	}
}

// TestUploadMaxFileSize: exactly Limits.MaxFileSize is accepted, one byte
// more is refused with ErrTooLarge as it arrives, in order or ahead.
func TestUploadMaxFileSize(t *testing.T) {
	const max = 1<<20 + 7
	data := ageBytes(max + 1)
	t.Run("at the limit", func(t *testing.T) {
		z := newUpZone(t, max)
		u := z.start(t, "max.age")
		for off := 0; off < max; off += upChunk {
			upWrite(t, u, data[off:min(off+upChunk, max)], int64(off))
		}
		m, stored := z.commit(t, u)
		if m.Size != max || len(stored) != max || m.SHA256 != upSHA256(data[:max]) {
			t.Errorf("delivery size %d (stored %d) sha256 %s, want %d %s", m.Size, len(stored), m.SHA256, max, upSHA256(data[:max]))
		}
	})
	for _, tc := range []struct {
		name string
		off  int
	}{{"in order", 0}, {"ahead", upChunk}} {
		t.Run("one byte over, "+tc.name, func(t *testing.T) {
			z := newUpZone(t, max)
			u := z.start(t, "big.age")
			if tc.off > 0 {
				upWrite(t, u, data[:64], 0) // then the rest, ahead of a gap
			}
			n, err := u.WriteAt(data[tc.off:], int64(tc.off))
			if n != 0 || !errors.Is(err, delivery.ErrTooLarge) {
				t.Fatalf("WriteAt past the limit = %d, %v; want 0, %v", n, err, delivery.ErrTooLarge)
			}
			if got := reasonOf(err); got != "too_large" {
				t.Errorf("reason %q, want too_large", got)
			}
			if _, err := u.Finish(); !errors.Is(err, delivery.ErrTooLarge) {
				t.Errorf("Finish: %v, want %v", err, delivery.ErrTooLarge)
			}
			z.assertNothingStored(t)
		})
	}
}

// TestUploadNotEncrypted: the first bytes decide, as soon as crypto.SniffLen
// of them have arrived in order, before anything is stored.
func TestUploadNotEncrypted(t *testing.T) {
	const n = crypto.SniffLen
	plain := []byte(strings.Repeat("bsn;clientnummer;meetdatum\n123456782;CL1001;2026-01-05\n", 2*n/54+1))
	t.Run("refused at the write that completes SniffLen bytes", func(t *testing.T) {
		z := newUpZone(t, 1<<30)
		u := z.start(t, "p.csv.age")
		upWrite(t, u, plain[:40], 0)
		upWrite(t, u, plain[40:n-1], 40)
		written, err := u.WriteAt(plain[n-1:n], n-1)
		if written != 0 || !errors.Is(err, delivery.ErrNotEncrypted) {
			t.Fatalf("the write of byte %d = %d, %v; want 0, %v", n, written, err, delivery.ErrNotEncrypted)
		}
		if _, err := u.Finish(); !errors.Is(err, delivery.ErrNotEncrypted) {
			t.Errorf("Finish: %v, want %v", err, delivery.ErrNotEncrypted)
		}
		z.assertNothingStored(t)
	})
	t.Run("refused at the first write of 32 KiB", func(t *testing.T) {
		z := newUpZone(t, 1<<30)
		u := z.start(t, "p.csv.age")
		big := bytes.Repeat(plain, 100)[:upChunk]
		if _, err := u.WriteAt(big, 0); !errors.Is(err, delivery.ErrNotEncrypted) {
			t.Fatalf("first write: %v, want %v", err, delivery.ErrNotEncrypted)
		}
		u.Abort(errBroken)
		z.assertNothingStored(t)
	})
	t.Run("refused when the gap before a later write fills", func(t *testing.T) {
		z := newUpZone(t, 1<<30)
		u := z.start(t, "p.csv.age")
		upWrite(t, u, plain[n:n+136], n)
		if _, err := u.WriteAt(plain[:n], 0); !errors.Is(err, delivery.ErrNotEncrypted) {
			t.Fatalf("write of the start: %v, want %v", err, delivery.ErrNotEncrypted)
		}
		u.Abort(errBroken)
		z.assertNothingStored(t)
	})
	t.Run("short file refused at Finish", func(t *testing.T) {
		z := newUpZone(t, 1<<30)
		u := z.start(t, "p.csv.age")
		upWrite(t, u, plain[:n-1], 0)
		if _, err := u.Finish(); !errors.Is(err, delivery.ErrNotEncrypted) {
			t.Errorf("Finish: %v, want %v", err, delivery.ErrNotEncrypted)
		}
		z.assertNothingStored(t)
	})
	t.Run("short age file accepted", func(t *testing.T) {
		z := newUpZone(t, 1<<30)
		u := z.start(t, "s.age")
		intro := []byte("age-encryption.org/v1\n")
		upWrite(t, u, intro, 0)
		m, stored := z.commit(t, u)
		if !bytes.Equal(stored, intro) || m.Size != int64(len(intro)) {
			t.Errorf("stored %q (size %d), want %q", stored, m.Size, intro)
		}
	})
	t.Run("armoured OpenPGP accepted", func(t *testing.T) {
		z := newUpZone(t, 1<<30)
		u := z.start(t, "s.asc")
		msg := []byte("-----BEGIN PGP MESSAGE-----\n\nwcBMA" + strings.Repeat("A", 100) + "\n")
		upWrite(t, u, msg, 0)
		m, _ := z.commit(t, u)
		if m.Format != "openpgp" {
			t.Errorf("format %q, want openpgp", m.Format)
		}
	})
}

// TestUploadAbort: an upload aborted after partial data leaves no key under
// landed/ and no temporary file, and is audited.
func TestUploadAbort(t *testing.T) {
	z := newUpZone(t, 1<<30)
	u := z.start(t, "a.age")
	data := ageBytes(1 << 20)
	for off := 0; off < len(data); off += upChunk {
		upWrite(t, u, data[off:off+upChunk], int64(off))
	}
	upWrite(t, u, data[:upChunk], int64(len(data))+upChunk) // and some ahead
	u.Abort(errBroken)
	z.assertNothingStored(t)
	if _, err := u.WriteAt(data[:upChunk], int64(len(data))); err == nil {
		t.Error("WriteAt after Abort succeeded")
	}
	if p, err := u.Finish(); p != nil || err == nil {
		t.Errorf("Finish after Abort = %v, %v; want an error", p, err)
	}
	u.Abort(errBroken) // twice is harmless
	ev := upAuditLines(z.logs.String(), EventUploadAborted)
	if len(ev) != 1 {
		t.Fatalf("%d upload.aborted events, want 1: %v", len(ev), ev)
	}
	if ev[0]["file"] != "a.age" || ev[0]["bytes_received"] != float64(len(data)) || ev[0]["tenant"] != "acme" {
		t.Errorf("upload.aborted %v, want file a.age, bytes_received %d, tenant acme", ev[0], len(data))
	}
}

// TestUploadAbortWhileWriting: an abort (a shutdown) racing with writers
// ends the upload without leftovers; run with -race.
func TestUploadAbortWhileWriting(t *testing.T) {
	z := newUpZone(t, 1<<30)
	u := z.start(t, "a.age")
	data := ageBytes(upChunk)
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	wrote := make(chan struct{}, 1)
	for range 8 {
		wg.Go(func() {
			for {
				mu.Lock()
				off := next
				next += upChunk
				mu.Unlock()
				if _, err := u.WriteAt(data, off); err != nil {
					return
				}
				select {
				case wrote <- struct{}{}:
				default:
				}
			}
		})
	}
	<-wrote
	u.Abort(errShutdown)
	wg.Wait()
	z.assertNothingStored(t)
	ev := upAuditLines(z.logs.String(), EventUploadAborted)
	if len(ev) != 1 || ev[0]["reason"] != "shutdown" {
		t.Errorf("upload.aborted events %v, want one with reason shutdown", ev)
	}
}

// TestUploadMemory: a 256 MiB upload streams through with a heap that does
// not grow with its size (a memory bound, not a timing).
func TestUploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB upload")
	}
	const size = 256 << 20
	const bound = 64 << 20
	z := newUpZone(t, 1<<30)
	runtime.GC()
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		// Sampling, not timing: the assertion is on the largest sample.
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var most uint64
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			most = max(most, ms.HeapInuse)
			select {
			case <-stop:
				peak <- most
				return
			case <-tick.C:
			}
		}
	}()
	u := z.start(t, "big.age")
	h := sha256.New()
	buf := make([]byte, upChunk)
	src := rand.New(rand.NewPCG(1, 2))
	// 32 KiB chunks, each group of 64 (2 MiB) written in reverse: the
	// reorder window is in use all along.
	const group = 64
	for g := 0; g < size/upChunk; g += group {
		chunks := make([][]byte, group)
		for i := range chunks {
			for j := 0; j < upChunk; j += 8 {
				v := src.Uint64()
				for k := range 8 {
					buf[j+k] = byte(v >> (8 * k))
				}
			}
			if g == 0 && i == 0 {
				copy(buf, ageBytes(64))
			}
			chunks[i] = bytes.Clone(buf)
			h.Write(buf)
		}
		for i := group - 1; i >= 0; i-- {
			upWrite(t, u, chunks[i], int64(g+i)*upChunk)
		}
	}
	m, err := upFinishCommit(z, u)
	close(stop)
	most := <-peak
	if err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(h.Sum(nil))
	if m.Size != size || m.SHA256 != want {
		t.Errorf("delivery size %d sha256 %s, want %d %s", m.Size, m.SHA256, size, want)
	}
	if most >= bound {
		t.Errorf("peak HeapInuse %d MiB during a %d MiB upload, want < %d MiB", most>>20, size>>20, bound>>20)
	}
	t.Logf("peak HeapInuse %.1f MiB", float64(most)/(1<<20))
}

func upFinishCommit(z *upZone, u *Upload) (delivery.Meta, error) {
	p, err := u.Finish()
	if err != nil {
		return delivery.Meta{}, err
	}
	return z.d.CommitUpload(context.Background(), upSession, p, u.Name)
}

// TestUploadWaitUploads: WaitUploads aborts what still runs when its
// context ends, keeps what was committed, and refuses new uploads.
func TestUploadWaitUploads(t *testing.T) {
	z := newUpZone(t, 1<<30)
	done := z.start(t, "done.age")
	upWrite(t, done, ageBytes(100), 0)
	if _, err := upFinishCommit(z, done); err != nil {
		t.Fatal(err)
	}
	running := z.start(t, "running.age")
	upWrite(t, running, ageBytes(upChunk), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	z.d.WaitUploads(ctx)
	if err := running.Failed(); !errors.Is(err, errShutdown) {
		t.Errorf("running upload: %v, want %v", err, errShutdown)
	}
	// No new upload once a shutdown has begun.
	if u, err := z.d.StartUpload(t.Context(), upSession, "late.age"); u != nil || !errors.Is(err, errShutdown) {
		t.Errorf("StartUpload during shutdown = %v, %v; want nil, %v", u, err, errShutdown)
	}
	if got := reasonOf(errShutdown); got != "shutdown" {
		t.Errorf("reason %q, want shutdown", got)
	}
	var landed []string
	for _, k := range z.keys(t) {
		if strings.HasPrefix(k, "landed/") {
			landed = append(landed, k)
		}
	}
	if len(landed) != 2 {
		t.Errorf("landed keys %v, want the data and meta.json of done.age only", landed)
	}
	if tmp := z.temps(t); len(tmp) != 0 {
		t.Errorf(".tmp holds %v, want nothing", tmp)
	}
}

// upAuditLines parses the JSON audit lines of one event.
func upAuditLines(logs, event string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			continue
		}
		if m["event"] == event {
			out = append(out, m)
		}
	}
	return out
}
