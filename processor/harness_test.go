package processor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// harness is a processor on a real local store with real keys.
type harness struct {
	t         testing.TB
	dir       string
	st        store.Store
	id        *age.X25519Identity
	recipient string
	openpgp   []*crypto.OpenPGPKey // the processor's OpenPGP keys, if any
	tenants   []config.Tenant
	logs      *testenv.SyncBuffer
	now       time.Time
	minCell   int
	sortRun   int
	seq       int
}

var testPseudonymKey = bytes.Repeat([]byte{0x42}, 32)

func newHarness(t testing.TB, tenants ...config.Tenant) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := store.NewLocal(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, dir, st, tenants...)
}

// newHarnessOn is newHarness on the store st, with dir for its files.
func newHarnessOn(t testing.TB, dir string, st store.Store, tenants ...config.Tenant) *harness {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, dir: dir, st: st, id: id, recipient: id.Recipient().String(), tenants: tenants,
		logs: &testenv.SyncBuffer{}, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), minCell: 10}
}

func romTenant(id string, orgs ...string) config.Tenant {
	return config.Tenant{ID: id, Datasets: []string{"rom"}, Organisations: orgs}
}

func lvr1Tenant(id string, orgs, vsvs []string) config.Tenant {
	return config.Tenant{ID: id, Datasets: []string{"lvr1"}, Organisations: orgs, VSVs: vsvs}
}

func (h *harness) processor() *Processor {
	h.t.Helper()
	ps, err := crypto.NewPseudonymizer(testPseudonymKey)
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := New(Options{
		Store: h.st, Tenants: h.tenants, Identities: []age.Identity{h.id}, OpenPGPKeys: h.openpgp, Pseudonymizer: ps,
		MinCell: h.minCell, WorkDir: h.t.TempDir(), Version: "test", SortRunSize: h.sortRun,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)),
		Now:    func() time.Time { return h.now },
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) run() Summary {
	h.t.Helper()
	sum, err := h.processor().Run(context.Background())
	if err != nil {
		h.t.Fatalf("run: %v", err)
	}
	return sum
}

// encrypt encrypts plain to the harness's recipient with the age library.
func (h *harness) encrypt(plain []byte) []byte {
	h.t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, h.id.Recipient())
	if err != nil {
		h.t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		h.t.Fatal(err)
	}
	return buf.Bytes()
}

// encryptCLI encrypts plain with the age command-line tool, as a sender does.
func (h *harness) encryptCLI(plain []byte) []byte {
	h.t.Helper()
	agePath := testenv.Tool(h.t, "age", "apt-get install -y age")
	cmd := exec.Command(agePath, "-r", h.recipient)
	cmd.Stdin = bytes.NewReader(plain)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("age: %v: %s", err, errb.String())
	}
	return out.Bytes()
}

// deliver commits data as a delivery of tenant; deliveries made later get
// later ids (the clock moves one second per delivery).
func (h *harness) deliver(tenant, name string, data []byte) delivery.Meta {
	h.t.Helper()
	h.seq++
	m, err := delivery.Commit(context.Background(), h.st, delivery.Upload{
		Tenant: tenant, Channel: delivery.ChannelCLI, FileName: name,
		Now: time.Date(2026, 11, 23, 10, 0, h.seq, 0, time.UTC),
	}, bytes.NewReader(data))
	if err != nil {
		h.t.Fatalf("deliver %s: %v", name, err)
	}
	return m
}

// deliverRaw writes a delivery without the gateway's checks (for inputs the
// gateway would refuse, to test the processor's own defences).
func (h *harness) deliverRaw(tenant, name string, data []byte) delivery.Meta {
	h.t.Helper()
	h.seq++
	ctx := context.Background()
	m := delivery.Meta{ID: delivery.NewID(time.Date(2026, 11, 23, 10, 0, h.seq, 0, time.UTC)), Tenant: tenant,
		Channel: delivery.ChannelCLI, FileName: name, Size: int64(len(data)), SHA256: sha256hex(data),
		ReceivedAt: time.Date(2026, 11, 23, 10, 0, h.seq, 0, time.UTC)}
	if err := store.PutBytes(ctx, h.st, delivery.DataKey(tenant, m.ID), data); err != nil {
		h.t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	if err := store.PutBytes(ctx, h.st, delivery.MetaKey(tenant, m.ID), b); err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) report(m delivery.Meta) Report {
	h.t.Helper()
	b, err := store.ReadAll(context.Background(), h.st, reportKey(m.Tenant, m.ID, ".json"), 64<<20)
	if err != nil {
		h.t.Fatalf("report of %s: %v", m.FileName, err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// keys lists every key in the store under prefix.
func (h *harness) keys(prefix string) []string {
	h.t.Helper()
	var out []string
	for info, err := range h.st.List(context.Background(), prefix) {
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

// allFiles returns every file under the harness folder (store, work dirs).
func (h *harness) allFiles() map[string][]byte {
	h.t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(h.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[strings.TrimPrefix(path, h.dir)] = b
		return nil
	})
	return out
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func readKey(h *harness, key string) ([]byte, error) {
	return store.ReadAll(context.Background(), h.st, key, 1<<30)
}
