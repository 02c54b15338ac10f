package processor

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/ttpgate/ttpgate/internal/synth"
)

// TestNoIdentifyingValueIsWritten generates extracts in every dialect (with
// row errors, so that reports list many rows), processes them, and searches
// every byte the processor wrote — staging, outputs, reports, ledger, temp
// files and logs, with Parquet files decoded value by value — for every
// identifying value of the inputs.
func TestNoIdentifyingValueIsWritten(t *testing.T) {
	h := newHarness(t, romTenant("vendor", "94012345", "94054321"),
		lvr1Tenant("praktijk", []string{"03012345"}, []string{"VSV-UTR-01"}))
	secrets := map[string]string{} // value -> kind
	add := func(kind, v string) {
		secrets[v] = kind
		if kind == "bsn" || kind == "bsn_moeder" {
			secrets[strings.TrimPrefix(v, "0")] = kind // the 8-digit form a file may hold
		}
		if kind == "postcode" {
			v = strings.ReplaceAll(v, " ", "")
			secrets[v] = kind
			secrets[v[:4]+" "+v[4:]] = kind
		}
	}
	for i, d := range synth.Dialects() {
		o := synth.Options{Rows: 1500, Seed: uint64(100 + i), Dialect: d, ErrorRate: 0.03}
		var rom, lvr bytes.Buffer
		if err := synth.WriteROM(&rom, o); err != nil {
			t.Fatal(err)
		}
		if err := synth.WriteLVR1(&lvr, o); err != nil {
			t.Fatal(err)
		}
		if err := synth.ROMIdentifiers(o, add); err != nil {
			t.Fatal(err)
		}
		if err := synth.LVR1Identifiers(o, add); err != nil {
			t.Fatal(err)
		}
		h.deliver("vendor", fmt.Sprintf("rom-%s.csv.age", d), h.encrypt(rom.Bytes()))
		h.deliver("praktijk", fmt.Sprintf("lvr1-%s.csv.age", d), h.encrypt(lvr.Bytes()))
	}
	// Full postcodes only: the 4 digits alone are allowed.
	for v, kind := range secrets {
		if kind == "postcode" && len(strings.ReplaceAll(v, " ", "")) <= 4 {
			delete(secrets, v)
		}
	}
	sum := h.run()
	if got := sum.Accepted + sum.AcceptedWithWarnings; got != 2*len(synth.Dialects()) {
		t.Fatalf("accepted %d deliveries, want %d (summary %+v)", got, 2*len(synth.Dialects()), sum)
	}
	if len(secrets) < 1000 {
		t.Fatalf("only %d identifying values to look for; the generator changed?", len(secrets))
	}

	texts := map[string]string{"log": h.logs.String()}
	for name, b := range h.allFiles() {
		if strings.Contains(filepath.ToSlash(name), "/landed/") && strings.HasSuffix(name, "/data") {
			continue // the ciphertext as received
		}
		if strings.HasSuffix(name, ".parquet") || bytes.HasPrefix(b, []byte("PAR1")) {
			texts[name] = parquetText(t, name, b)
		} else {
			texts[name] = string(b)
		}
	}
	// Every substring of every length a secret has is looked up: as
	// thorough as a substring search per value, and fast.
	lengths := map[int]bool{}
	for v := range secrets {
		lengths[len(v)] = true
	}
	checked := 0
	for name, text := range texts {
		checked += len(text)
	scan:
		for i := range len(text) {
			for n := range lengths {
				if i+n <= len(text) {
					if kind, ok := secrets[text[i:i+n]]; ok {
						t.Errorf("%s holds a %s from an input at byte %d", name, kind, i)
						break scan
					}
				}
			}
		}
	}
	t.Logf("searched %d files (%d bytes of text) for %d identifying values", len(texts), checked, len(secrets))
	if len(h.keys("out/")) < 5 || len(h.keys("staging/")) != 2*len(synth.Dialects()) {
		t.Fatalf("expected outputs and staging files, got %v", append(h.keys("out/"), h.keys("staging/")...))
	}
}

// parquetText decodes every value and the key-value metadata of a Parquet
// file into text (compressed pages would hide a leak from a byte search).
func parquetText(t *testing.T, name string, b []byte) string {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var sb strings.Builder
	for _, kv := range f.Metadata().KeyValueMetadata {
		sb.WriteString(kv.Key + "=" + kv.Value + "\n")
	}
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				for _, v := range row {
					if v.Kind() == parquet.ByteArray || v.Kind() == parquet.FixedLenByteArray {
						sb.Write(v.ByteArray())
					} else {
						sb.WriteString(v.String())
					}
					sb.WriteByte('\t')
				}
				sb.WriteByte('\n')
			}
			if err != nil {
				break
			}
		}
		rows.Close()
	}
	return sb.String()
}
