package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ttpgate/ttpgate/gateway"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/synth"
)

// TestDemoClientsVerifyTheGateway: the demo's SFTP and S3 clients upload to
// the gateway of their development setup, and refuse one that shows
// another setup's SSH host key or TLS certificate.
func TestDemoClientsVerifyTheGateway(t *testing.T) {
	dir := t.TempDir()
	cfgPath, err := ensureDevSetup(filepath.Join(dir, "demo"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	otherPath, err := ensureDevSetup(filepath.Join(dir, "other"), io.Discard) // other keys
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	listenOnFreePorts(cfg)
	st, err := openStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ls, err := listenGateway(cfg, gateway.NewDropzone(st, cfg, log))
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{}
	for _, l := range ls {
		addrs[l.protocol] = l.ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serveGateway(ctx, ls, 0, time.Second, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("gateway: %v", err)
		}
	})

	keys := filepath.Join(dir, "demo", "keys")
	recipient, err := readRecipient(filepath.Join(keys, "recipient.txt"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "x.csv.age")
	if err := encryptTo(file, recipient, func(w io.Writer) error { _, err := io.WriteString(w, "a,b\n1,2\n"); return err }); err != nil {
		t.Fatal(err)
	}

	// A key folder with the tenant's own key but another gateway's host key.
	wrongKeys := filepath.Join(dir, "wrong-keys")
	if err := os.Mkdir(wrongKeys, 0o700); err != nil {
		t.Fatal(err)
	}
	for src, name := range map[string]string{
		filepath.Join(keys, "tenant-vendor-acme"):                                  "tenant-vendor-acme",
		filepath.Join(filepath.Dir(otherPath), "keys", "ssh_host_ed25519_key.pub"): "ssh_host_ed25519_key.pub",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wrongKeys, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wrongCert := *cfg
	wrongCert.Gateway.S3.TLSCert = filepath.Join(filepath.Dir(otherPath), "keys", "tls.crt")

	good := demoUploader{st: st, cfg: cfg, keys: keys}
	sftpTo := func(u demoUploader) func(context.Context, string, string) error {
		return func(ctx context.Context, tenant, path string) error { return u.sftp(ctx, addrs["sftp"], tenant, path) }
	}
	s3To := func(u demoUploader) func(context.Context, string, string) error {
		return func(ctx context.Context, tenant, path string) error { return u.s3(ctx, addrs["s3"], tenant, path) }
	}
	if err := sftpTo(demoUploader{st: st, cfg: cfg, keys: wrongKeys})(t.Context(), demoROMTenant, file); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Errorf("SFTP to a gateway with another host key: got error %v, want a host key mismatch", err)
	}
	if err := s3To(demoUploader{st: st, cfg: &wrongCert, keys: keys})(t.Context(), demoLVR1Tenant, file); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("S3 to a gateway with another certificate: got error %v, want an unknown authority", err)
	}
	for _, tc := range []struct {
		tenant, channel string
		send            func(context.Context, string, string) error
	}{
		{demoROMTenant, delivery.ChannelSFTP, sftpTo(good)},
		{demoLVR1Tenant, delivery.ChannelS3, s3To(good)},
	} {
		// upload checks the one new delivery: tenant, channel, name, size, hash.
		if _, err := good.upload(t.Context(), tc.tenant, tc.channel, file, tc.send); err != nil {
			t.Errorf("upload as %s over %s: %v", tc.tenant, tc.channel, err)
		}
	}
}

// cmdNoIDs is the script command
//
//	noids ROMROWS LVR1ROWS FILE...
//
// which fails when a FILE ("stdout" and "stderr": the last command's)
// holds an identifying value of the synthetic extracts the demo makes with
// that many rows: a BSN (also in the 8-digit form a file may hold), client,
// trajectory or pregnancy number, or full postcode (with or without its
// space). A number counts only as a whole number, not as digits inside a
// longer one. "! noids" fails unless a FILE holds one: the check of the
// check.
func cmdNoIDs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: [!] noids ROMROWS LVR1ROWS FILE...")
	}
	romRows, err1 := strconv.Atoi(args[0])
	lvrRows, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		ts.Fatalf("noids: row counts %q and %q are not numbers", args[0], args[1])
	}
	ids := map[string]string{} // value -> kind
	add := func(kind, v string) {
		ids[v] = kind
		switch kind {
		case "bsn", "bsn_moeder":
			if s, ok := strings.CutPrefix(v, "0"); ok {
				ids[s] = kind
			}
		case "postcode":
			v = strings.ReplaceAll(v, " ", "")
			ids[v] = kind
			ids[v[:4]+" "+v[4:]] = kind
		}
	}
	rom, lvr := demoExtracts(romRows, lvrRows)
	ts.Check(synth.ROMIdentifiers(rom, add))
	ts.Check(synth.LVR1Identifiers(lvr, add))
	if len(ids) == 0 {
		ts.Fatalf("noids: the extracts hold no identifying value to look for")
	}
	for _, name := range args[2:] {
		text := ts.ReadFile(name)
		for v, kind := range ids {
			if containsValue(text, v) {
				if neg {
					return
				}
				ts.Fatalf("%s holds a %s of the synthetic extracts", name, kind)
			}
		}
	}
	if neg {
		ts.Fatalf("no identifying value of the synthetic extracts found in %s", strings.Join(args[2:], ", "))
	}
}

// containsValue reports whether v occurs in s; a number only when no digit
// is next to it.
func containsValue(s, v string) bool {
	number := strings.Trim(v, "0123456789") == ""
	for i := 0; ; {
		j := strings.Index(s[i:], v)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(v)
		if !number || ((start == 0 || !isDigit(s[start-1])) && (end == len(s) || !isDigit(s[end]))) {
			return true
		}
		i = start + 1
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
