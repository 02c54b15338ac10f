package processor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// pgpProcessorKey is a processor OpenPGP key for the tests: the private key
// the processor loads, and the public key a sender encrypts to.
type pgpProcessorKey struct {
	name string
	keys []*crypto.OpenPGPKey
	pub  string // path of the armoured public key
}

// keygenOpenPGPKey is the key `ttpgate keygen` makes (Curve25519).
func keygenOpenPGPKey(t *testing.T) pgpProcessorKey {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := crypto.GenerateKeys(dir); err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.LoadOpenPGPKeys(filepath.Join(dir, crypto.OpenPGPKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return pgpProcessorKey{"keygen Curve25519", keys, filepath.Join(dir, crypto.OpenPGPPublicKeyFile)}
}

// gpgOpenPGPKey is a key made by gpg and exported for the processor with
// `gpg --export-secret-keys --armor`, as an operator may bring one.
func gpgOpenPGPKey(t *testing.T, name string, secret []byte) pgpProcessorKey {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "openpgp.key")
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.LoadOpenPGPKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	op := testenv.NewGPG(t) // the operator's home, to export the public key
	op.Run(nil, "--passphrase", "", "--import", path)
	pub := op.Run(nil, "--export", "--armor", keys[0].Fingerprint())
	pubPath := filepath.Join(dir, "openpgp.pub.asc")
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return pgpProcessorKey{name, keys, pubPath}
}

// processed is what a run made of the rom-basic fixture's two deliveries,
// with what depends on the ciphertext left out: the reports without
// delivery id, file name and SHA-256, the output files with the SHA-256
// lists of their sources (ttpgate.source_sha256) as given.
type processed struct {
	metas   []delivery.Meta
	reports []Report
	out     map[string][]byte // out/ files but the operators' table
	ops     [][]string        // out/ops/deliveries cells, but id, file name, size and sha256
	staged  [][]byte          // staging files, in delivery order
}

// runFixture delivers the rom-basic fixture's two files, as encrypted by
// enc, processes them, and returns what the run made.
func runFixture(t *testing.T, h *harness, ext string, enc func(plain []byte) []byte) processed {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "fixtures", "rom-basic")
	tenant := h.tenants[0].ID
	var p processed
	for _, name := range []string{"delivery1.csv", "delivery2.csv"} {
		p.metas = append(p.metas, h.deliver(tenant, name+ext, enc(readFile(t, filepath.Join(dir, name)))))
	}
	sum := h.run()
	if sum.Processed != 2 {
		t.Fatalf("processed %d deliveries, want 2", sum.Processed)
	}
	p.out = map[string][]byte{}
	for k, b := range outputs(t, h) {
		if strings.HasPrefix(k, tableDeliveries) {
			p.ops = opsCells(t, filepath.Join(h.dir, "store", filepath.FromSlash(k)))
			continue
		}
		p.out[k] = b
	}
	for _, m := range p.metas {
		r := h.report(m)
		r.DeliveryID, r.FileName, r.SHA256 = "", "", ""
		p.reports = append(p.reports, r)
		b, err := readKey(h, "staging/rom/"+m.Tenant+"/"+m.ID+".parquet")
		if err != nil {
			t.Fatalf("staging file of %s: %v", m.FileName, err)
		}
		p.staged = append(p.staged, b)
	}
	return p
}

// opsCells reads the operators' table without the columns that name or
// measure the file (delivery_id, file_name, size_bytes, sha256).
func opsCells(t *testing.T, path string) [][]string {
	t.Helper()
	cells := parquetCells(t, path)
	var keep []int
	for i, col := range cells[0] {
		if !slices.Contains([]string{"delivery_id", "file_name", "size_bytes", "sha256"}, col) {
			keep = append(keep, i)
		}
	}
	if len(keep) != len(cells[0])-4 {
		t.Fatalf("operators' table columns %v", cells[0])
	}
	out := make([][]string, len(cells))
	for r, row := range cells {
		for _, i := range keep {
			out[r] = append(out[r], row[i])
		}
	}
	return out
}

// sourceLists maps the JSON lists of SHA-256 (sorted, as rebuild writes
// ttpgate.source_sha256) of every non-empty subset of one run's deliveries
// to those of the same deliveries in another run. The lists have the same
// length, so a Parquet footer stays valid byte for byte.
func sourceLists(from, to []delivery.Meta) map[string]string {
	m := map[string]string{}
	for mask := 1; mask < 1<<len(from); mask++ {
		var f, tt []string
		for i := range from {
			if mask&(1<<i) != 0 {
				f, tt = append(f, from[i].SHA256), append(tt, to[i].SHA256)
			}
		}
		slices.Sort(f)
		slices.Sort(tt)
		fj, _ := json.Marshal(f)
		tj, _ := json.Marshal(tt)
		m[string(fj)] = string(tj)
	}
	return m
}

// assertSameOutputs compares got (an OpenPGP run) with want (the age run)
// byte for byte, with got's source SHA-256s swapped for want's.
func assertSameOutputs(t *testing.T, got, want processed) {
	t.Helper()
	for i, r := range got.reports {
		if r.Status != StatusAccepted && r.Status != StatusAcceptedWithWarnings {
			t.Errorf("delivery %d: status %s (%s: %s), want accepted", i+1, r.Status, r.Reason, r.Message)
		}
		g, _ := json.Marshal(r)
		w, _ := json.Marshal(want.reports[i])
		if !bytes.Equal(g, w) {
			t.Errorf("delivery %d: report\n%s\nwant (as with age)\n%s", i+1, g, w)
		}
	}
	lists := sourceLists(got.metas, want.metas)
	if len(got.out) != len(want.out) {
		t.Errorf("%d output files, want %d", len(got.out), len(want.out))
	}
	for k, w := range want.out {
		g, ok := got.out[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		if bytes.Equal(g, w) {
			t.Errorf("%s equals the age run's file before its source SHA-256s are swapped", k)
		}
		for from, to := range lists {
			g = bytes.ReplaceAll(g, []byte(from), []byte(to))
		}
		if !bytes.Equal(g, w) {
			t.Errorf("%s differs from the file made from the age deliveries", k)
		}
	}
	if fmt.Sprint(got.ops) != fmt.Sprint(want.ops) {
		t.Errorf("operators' table\n%v\nwant\n%v", got.ops, want.ops)
	}
	for i, g := range got.staged {
		if !bytes.Contains(g, []byte(got.metas[i].SHA256)) {
			t.Errorf("delivery %d: the staging file does not name its source", i+1)
		}
		g = bytes.ReplaceAll(g, []byte(got.metas[i].SHA256), []byte(want.metas[i].SHA256))
		if !bytes.Equal(g, want.staged[i]) {
			t.Errorf("delivery %d: staging file differs from the age delivery's", i+1)
		}
	}
}

// TestOpenPGPDeliveriesMatchAge sends the rom-basic fixture encrypted by
// the gpg command line, as vendors do, in every form (processor key made by
// ttpgate keygen or an RSA-4096 key made by gpg; compressed or not; signed
// or not; binary or armoured), and expects exactly the outputs and reports
// of the same extract sent with age.
func TestOpenPGPDeliveriesMatchAge(t *testing.T) {
	gpgKeys := testenv.GPGRecipientKeys(t)
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "fixtures", "rom-basic")
	tenants := fixtureTenants(t, dir)

	base := newHarness(t, tenants...)
	want := runFixture(t, base, ".age", base.encrypt)
	if len(want.out) < 4 || len(want.reports) != 2 || want.reports[0].RowsAccepted == 0 {
		t.Fatalf("the age run made %d output files and reports %+v: not a baseline", len(want.out), want.reports)
	}

	sender := testenv.NewGPG(t)
	signer := sender.GenKey("vendor <vendor@example.invalid>", "ed25519")
	plainDir := t.TempDir()
	cases := 0
	for _, pk := range []pgpProcessorKey{keygenOpenPGPKey(t), gpgOpenPGPKey(t, "gpg RSA-4096", gpgKeys.RSA4096)} {
		for _, compress := range []string{"zlib", "none"} {
			for _, signed := range []bool{false, true} {
				for _, armored := range []bool{false, true} {
					name := fmt.Sprintf("%s/compress=%s/signed=%v/armor=%v", pk.name, compress, signed, armored)
					t.Run(name, func(t *testing.T) {
						args := []string{"--recipient-file", pk.pub, "--compress-algo", compress}
						if signed {
							args = append(args, "--sign", "--local-user", signer, "--passphrase", "")
						}
						ext := ".gpg"
						if armored {
							args, ext = append(args, "--armor"), ".asc"
						}
						enc := func(plain []byte) []byte {
							in := filepath.Join(plainDir, "extract.csv")
							if err := os.WriteFile(in, plain, 0o600); err != nil {
								t.Fatal(err)
							}
							return sender.Run(nil, append(args, "--encrypt", "--output", "-", in)...)
						}
						h := newHarness(t, tenants...)
						h.openpgp = pk.keys
						got := runFixture(t, h, ext, enc)
						assertSameOutputs(t, got, want)
						cases++
					})
				}
			}
		}
	}
	t.Logf("%d OpenPGP variants, each with outputs identical to age's", cases)
}

// TestOpenPGPRejections: messages that are refused, each with its own
// reason, staging nothing and publishing nothing.
func TestOpenPGPRejections(t *testing.T) {
	ours := keygenOpenPGPKey(t)
	sender := testenv.NewGPG(t)
	other := sender.GenKey("someone else <other@example.invalid>", "ed25519")
	dir := t.TempDir()
	plain := []byte(romHeader + strings.Repeat(romValid, 400)) // 800 rows, 83 KB
	in := filepath.Join(dir, "extract.csv")
	if err := os.WriteFile(in, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	enc := func(args ...string) []byte {
		return sender.Run(nil, append(args, "--output", "-", in)...)
	}
	toUs := []string{"--recipient-file", ours.pub, "--compress-algo", "none"}
	uncompressed := enc(append(toUs, "--encrypt")...)
	// The encrypted data of an uncompressed message starts after the PKESK
	// (old format, one-octet length), the SEIPD header (new format), its
	// version octet and the random prefix (AES: 18 octets); then come the
	// literal data packet's header (about 19 octets) and the CSV header.
	seipd := 2 + int(uncompressed[1])
	if uncompressed[0] != 0x84 || uncompressed[seipd] != 0xd2 {
		t.Fatalf("gpg's message does not have the layout this test assumes: % x … % x", uncompressed[:2], uncompressed[seipd])
	}
	lengthOctets := map[bool]int{true: 5, false: 1}[uncompressed[seipd+1] == 0xff]
	if l := uncompressed[seipd+1]; l >= 192 && l < 224 {
		lengthOctets = 2
	}
	data := seipd + 1 + lengthOctets + 1 + 18
	flip := func(i int) []byte {
		c := bytes.Clone(uncompressed)
		c[i] ^= 0x20
		return c
	}

	tests := []struct {
		name    string
		data    []byte
		message string
	}{
		{"for another key", enc("--recipient", other, "--encrypt"), reasonMessage("wrong_recipient")},
		{"passphrase only", enc("--passphrase", "s3cret", "--symmetric"), reasonMessage("passphrase_only")},
		{"no integrity protection", enc(append(toUs, "--rfc2440", "--cipher-algo", "3DES", "--encrypt")...), reasonMessage("no_integrity_protection")},
		// A flipped byte garbles what decrypts from there on; the MDC at the
		// end shows it. Garbled in the CSV header, the file would look like
		// an unknown dataset: the report must say damaged instead.
		{"damaged in the CSV header", flip(data + 20), reasonMessage("corrupt")},
		{"damaged in the middle", flip(len(uncompressed) / 2), reasonMessage("corrupt")},
		{"damaged at the end", flip(len(uncompressed) - 30), reasonMessage("corrupt")},
		{"truncated", uncompressed[:len(uncompressed)-10], reasonMessage("corrupt")},
		{"two messages", append(bytes.Clone(uncompressed), uncompressed...), reasonMessage("corrupt")},
	}
	h := newHarness(t, romTenant("vendor", "94012345"))
	h.openpgp = ours.keys
	metas := map[string]delivery.Meta{}
	for _, tt := range tests {
		metas[tt.name] = h.deliverRaw("vendor", "x.csv.gpg", tt.data)
	}
	sum := h.run()
	if sum.Rejected != len(tests) {
		t.Errorf("rejected %d deliveries, want %d", sum.Rejected, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.report(metas[tt.name])
			if r.Status != StatusRejected || r.Reason != "not_decryptable" || r.Message != tt.message {
				t.Errorf("status %s, reason %s, message %q; want rejected, not_decryptable, %q", r.Status, r.Reason, r.Message, tt.message)
			}
			if r.RowsTotal != 0 || r.RowsAccepted != 0 || len(r.Errors) != 0 || len(r.Warnings) != 0 || r.Dataset != "" {
				t.Errorf("the report tells of the unauthenticated plaintext: %d rows, %d errors, dataset %q", r.RowsTotal, len(r.Errors), r.Dataset)
			}
		})
	}
	if got := h.keys("staging/"); len(got) != 0 {
		t.Errorf("staged %v", got)
	}
	for _, k := range h.keys("out/") {
		if !strings.HasPrefix(k, tableDeliveries) {
			t.Errorf("published %s", k)
		}
	}
	if got, want := reasonMessage("wrong_recipient"), "no matching key"; !strings.Contains(got, want) {
		t.Errorf("wrong_recipient message %q does not say %q", got, want)
	}

	// Intact, the same message is accepted: the rejections are the damage's.
	h2 := newHarness(t, romTenant("vendor", "94012345"))
	h2.openpgp = ours.keys
	m := h2.deliver("vendor", "ok.csv.gpg", uncompressed)
	h2.run()
	if r := h2.report(m); r.Status == StatusRejected || r.RowsTotal != 800 || len(h2.keys("staging/")) != 1 {
		t.Errorf("intact message: status %s, %d rows, staged %v; want accepted, 800 rows, staged", r.Status, r.RowsTotal, h2.keys("staging/"))
	}
}

// An OpenPGP delivery to a processor without an OpenPGP key is rejected as
// a format it does not take, and a decompression bomb is stopped.
func TestOpenPGPUnsupportedAndBomb(t *testing.T) {
	ours := keygenOpenPGPKey(t)
	sender := testenv.NewGPG(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "extract.csv")
	if err := os.WriteFile(in, []byte(romHeader+romValid), 0o600); err != nil {
		t.Fatal(err)
	}
	msg := sender.Run(nil, "--recipient-file", ours.pub, "--encrypt", "--output", "-", in)
	h := newHarness(t, romTenant("vendor", "94012345")) // age only
	m := h.deliver("vendor", "a.csv.gpg", msg)
	h.run()
	if r := h.report(m); r.Reason != "not_decryptable" || r.Message != reasonMessage("unsupported_format") {
		t.Errorf("no OpenPGP key: reason %s, message %q; want not_decryptable, %q", r.Reason, r.Message, reasonMessage("unsupported_format"))
	}

	// 16 MiB of one CSV row over and over: ZLIB at level 9 makes some
	// 20 KiB of it, far more than MaxExpansion times smaller.
	bomb := filepath.Join(dir, "bomb.csv")
	row := romValid[:strings.IndexByte(romValid, '\n')+1]
	if err := os.WriteFile(bomb, []byte(romHeader+strings.Repeat(row, (16<<20)/len(row))), 0o600); err != nil {
		t.Fatal(err)
	}
	bombMsg := sender.Run(nil, "--recipient-file", ours.pub, "--compress-algo", "zlib", "-z", "9", "--encrypt", "--output", "-", bomb)
	if len(bombMsg)*crypto.MaxExpansion > 16<<20 {
		t.Fatalf("the bomb is %d bytes: not compressed enough", len(bombMsg))
	}
	h2 := newHarness(t, romTenant("vendor", "94012345"))
	h2.openpgp = ours.keys
	m = h2.deliver("vendor", "bomb.csv.gpg", bombMsg)
	h2.run()
	if r := h2.report(m); r.Reason != "not_decryptable" || r.Message != reasonMessage("decompression_limit") || r.RowsTotal != 0 {
		t.Errorf("bomb: reason %s, message %q, %d rows; want not_decryptable, %q, 0", r.Reason, r.Message, r.RowsTotal, reasonMessage("decompression_limit"))
	}
	if got := h2.keys("staging/"); len(got) != 0 {
		t.Errorf("staged %v", got)
	}
}
