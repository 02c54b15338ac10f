package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/testenv"
)

// Transfers with the real OpenSSH clients (sftp in batch mode, scp) against
// a gateway on 127.0.0.1: see harness_test.go.

// xferWaitDeadline bounds every wait for something the server does after the
// client has exited (the end of a session); it is no timing assertion.
const xferWaitDeadline = 15 * time.Second

// xferWait polls cond until it holds, failing t after xferWaitDeadline.
func xferWait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(xferWaitDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// xferAudit returns the parsed audit events with the given name.
func (g *gw) xferAudit(name string) []map[string]any {
	return upAuditLines(g.logs.String(), name)
}

// xferAuditFor returns the events with the given name about file.
func (g *gw) xferAuditFor(name, file string) []map[string]any {
	var out []map[string]any
	for _, e := range g.xferAudit(name) {
		if e["file"] == file {
			out = append(out, e)
		}
	}
	return out
}

// xferTemps lists the temporary files of the gateway's store.
func (g *gw) xferTemps() []string { return upTempFiles(g.t, filepath.Join(g.dir, "store")) }

// xferAssertNoLeftover checks that nothing of a refused or broken upload stays.
func (g *gw) xferAssertNoLeftover(t *testing.T) {
	t.Helper()
	if k := g.landedKeys(); len(k) != 0 {
		t.Errorf("landed keys %v, want none", k)
	}
	if tmp := g.xferTemps(); len(tmp) != 0 {
		t.Errorf("temporary files %v, want none", tmp)
	}
}

// xferSFTPCmd is an sftp batch run as tenant with extra client options, not
// started yet.
func (g *gw) xferSFTPCmd(tenant, batch string, extra ...string) *exec.Cmd {
	args := append([]string{"-b", "-", "-P", g.port}, g.sshOpts(g.keys[tenant])...)
	args = append(args, extra...)
	cmd := exec.Command("sftp", append(args, tenant+"@127.0.0.1")...)
	cmd.Dir = g.dir
	cmd.Stdin = strings.NewReader(batch)
	return cmd
}

// xferUploadActive returns the upload in progress of file once it has received
// at least min bytes, or nil.
func (g *gw) xferUploadActive(file string, min int64) *Upload {
	g.d.mu.Lock()
	defer g.d.mu.Unlock()
	for u := range g.d.active {
		if u.Name == file && u.Size() >= min {
			return u
		}
	}
	return nil
}

func TestTransferRefusedContent(t *testing.T) {
	g := startGateway(t, nil)
	plainCSV := []byte("clientnummer;traject_id;instrument;meetdatum;score\nCL1001;A01;OQ-45;2026-01-05;71\nCL1002;A02;OQ-45;2026-01-06;64\n")
	for _, tc := range []struct {
		name, file string
		data       []byte
		reason     string
		msg        string
	}{
		{"0 bytes", "empty.csv.age", nil, "empty", delivery.ErrEmpty.Message},
		{"1 byte", "one.csv.age", []byte("x"), "not_encrypted", delivery.ErrNotEncrypted.Message},
		{"63 bytes of an age header", "short.age", []byte("age-encryption.org/X" + strings.Repeat("x", 43)), "not_encrypted", delivery.ErrNotEncrypted.Message},
		{"plaintext CSV", "rom.csv.age", plainCSV, "not_encrypted", delivery.ErrNotEncrypted.Message},
		{"plaintext CSV of 1 MB", "big.csv.age", bytes.Repeat(plainCSV, 1<<20/len(plainCSV)), "not_encrypted", delivery.ErrNotEncrypted.Message},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.file(tc.file, tc.data)
			_, stderr, code := g.sftp("acme", "put "+tc.file+" /upload/"+tc.file+"\n")
			if code == 0 {
				t.Errorf("sftp exit 0, want failure")
			}
			want := fmt.Sprintf("ttpgate: %s refused: %s (%s)", tc.file, tc.msg, tc.reason)
			if !strings.Contains(stderr, want) {
				t.Errorf("client stderr %q, want it to contain %q", stderr, want)
			}
			if n := strings.Count(stderr, "ttpgate:"); n != 1 {
				t.Errorf("client printed %d ttpgate messages, want 1: %q", n, stderr)
			}
			ev := g.xferAuditFor(EventUploadRefused, tc.file)
			if len(ev) != 1 || ev[0]["reason"] != tc.reason || ev[0]["tenant"] != "acme" {
				t.Errorf("upload.refused events %v, want one with reason %s", ev, tc.reason)
			}
			if ds := g.deliveries("acme"); len(ds) != 0 {
				t.Errorf("%d deliveries, want 0", len(ds))
			}
			xferWait(t, "the upload to end", func() bool { return g.xferUploadActive(tc.file, 0) == nil })
			g.xferAssertNoLeftover(t)
		})
	}
}

func TestTransferBadNames(t *testing.T) {
	g := startGateway(t, nil)
	g.file("ok.age", ageBytes(1000))
	long := strings.Repeat("n", delivery.MaxNameLen-len(".age")) + ".age"
	for _, name := range []string{"bad name.csv.age", "x.csv", ".hidden.age", "n" + long, "a/b.age", "x.age.filepart.age.txt"} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := g.sftp("acme", fmt.Sprintf("put ok.age \"/upload/%s\"\n", name))
			if code == 0 {
				t.Errorf("sftp exit 0, want failure")
			}
			if name == "a/b.age" {
				return // a folder: denied like every other path outside /upload
			}
			if !strings.Contains(stderr, "ttpgate:") || !strings.Contains(stderr, delivery.ErrBadName.Message+" (invalid_name)") {
				t.Errorf("client stderr %q, want the invalid_name message", stderr)
			}
		})
	}
	if ds := g.deliveries("acme"); len(ds) != 0 {
		t.Errorf("%d deliveries, want 0", len(ds))
	}
	g.xferAssertNoLeftover(t)
	// The longest name allowed is fine.
	if _, stderr, code := g.sftp("acme", "put ok.age /upload/"+long+"\n"); code != 0 {
		t.Fatalf("128-character name: sftp exit %d: %s", code, stderr)
	}
	if ds := g.deliveries("acme"); len(ds) != 1 || ds[0].FileName != long {
		t.Errorf("deliveries %v, want one named %s", ds, long)
	}
}

// TestTransferSizes: the smallest valid upload (the age intro line alone)
// and one of 100 MB each become one delivery with the right size and hash.
func TestTransferSizes(t *testing.T) {
	g := startGateway(t, nil)
	intro := []byte("age-encryption.org/v1\n")
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"age intro only", intro},
		{"100 MB", ageBytes(100_000_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := strings.ReplaceAll(tc.name, " ", "-") + ".age"
			g.file(file, tc.data)
			before := len(g.deliveries("acme"))
			if _, stderr, code := g.sftp("acme", "put "+file+" /upload/"+file+"\n"); code != 0 {
				t.Fatalf("sftp exit %d: %s", code, stderr)
			}
			var got []delivery.Meta
			for _, m := range g.deliveries("acme") {
				if m.FileName == file {
					got = append(got, m)
				}
			}
			if len(got) != 1 || len(g.deliveries("acme")) != before+1 {
				t.Fatalf("deliveries of %s: %v, want 1", file, got)
			}
			m := got[0]
			if m.Size != int64(len(tc.data)) || m.SHA256 != upSHA256(tc.data) || m.Channel != "sftp" || m.Tenant != "acme" || m.Format != "age" {
				t.Errorf("delivery %+v, want size %d sha256 %s channel sftp tenant acme format age", m, len(tc.data), upSHA256(tc.data))
			}
			stored, err := os.ReadFile(filepath.Join(g.dir, "store", filepath.FromSlash(delivery.DataKey("acme", m.ID))))
			if err != nil {
				t.Fatal(err)
			}
			if upSHA256(stored) != m.SHA256 {
				t.Errorf("stored data sha256 %s, want %s", upSHA256(stored), m.SHA256)
			}
		})
	}
	if tmp := g.xferTemps(); len(tmp) != 0 {
		t.Errorf("temporary files %v, want none", tmp)
	}
}

func TestTransferSCP(t *testing.T) {
	testenv.Tool(t, "scp", "apt-get install -y openssh-client")
	g := startGateway(t, nil)
	data := ageBytes(300_000)
	local := g.file("scp.csv.age", data)
	if _, stderr, code := g.scp("acme", local, "/upload/scp.csv.age"); code != 0 {
		t.Fatalf("scp exit %d: %s", code, stderr)
	}
	ds := g.deliveries("acme")
	if len(ds) != 1 || ds[0].FileName != "scp.csv.age" || ds[0].Size != int64(len(data)) || ds[0].SHA256 != upSHA256(data) {
		t.Fatalf("deliveries %+v, want one scp.csv.age of %d bytes, sha256 %s", ds, len(data), upSHA256(data))
	}
	// A refused file: scp fails and prints the reason.
	plain := g.file("plain.csv.age", bytes.Repeat([]byte("a;b;c\n"), 100))
	_, stderr, code := g.scp("acme", plain, "/upload/plain.csv.age")
	if code == 0 || !strings.Contains(stderr, delivery.ErrNotEncrypted.Message) {
		t.Errorf("scp of plaintext: exit %d, stderr %q; want failure with the not_encrypted message", code, stderr)
	}
	if n := len(g.deliveries("acme")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

// TestTransferConcurrent: 50 sftp processes at once, each uploading its own
// 5 MB file, make exactly 50 deliveries with the right hashes.
func TestTransferConcurrent(t *testing.T) {
	const uploaders = 50
	const size = 5_000_000
	g := startGateway(t, nil)
	want := map[string]string{} // sha256 -> file
	for i := range uploaders {
		name := fmt.Sprintf("c%02d.age", i)
		data := ageBytes(size)
		g.file(name, data)
		want[upSHA256(data)] = name
	}
	var wg sync.WaitGroup
	errs := make(chan string, uploaders)
	for i := range uploaders {
		name := fmt.Sprintf("c%02d.age", i)
		// Spread the clients over source addresses: one address may hold
		// maxConnectionsPerAddr connections.
		bind := fmt.Sprintf("BindAddress=127.0.0.%d", 1+i%4)
		wg.Go(func() {
			_, stderr, code := run(g.xferSFTPCmd("acme", "put "+name+" /upload/"+name+"\n", "-o", bind))
			if code != 0 {
				errs <- fmt.Sprintf("%s: sftp exit %d: %s", name, code, stderr)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	ds := g.deliveries("acme")
	if len(ds) != uploaders {
		t.Errorf("%d deliveries, want %d", len(ds), uploaders)
	}
	seen := map[string]bool{}
	for _, m := range ds {
		name, ok := want[m.SHA256]
		switch {
		case !ok:
			t.Errorf("delivery %s (%s) has sha256 %s of no uploaded file", m.ID, m.FileName, m.SHA256)
		case seen[m.SHA256]:
			t.Errorf("delivery %s duplicates %s", m.ID, name)
		case m.FileName != name || m.Size != size:
			t.Errorf("delivery %s: file %s size %d, want %s %d", m.ID, m.FileName, m.Size, name, size)
		}
		seen[m.SHA256] = true
	}
	if len(g.xferAudit(EventUploadCommitted)) != uploaders {
		t.Errorf("%d upload.committed events, want %d", len(g.xferAudit(EventUploadCommitted)), uploaders)
	}
	if tmp := g.xferTemps(); len(tmp) != 0 {
		t.Errorf("temporary files %v, want none", tmp)
	}
}

// TestTransferClientKilled: a client killed in the middle of an upload
// leaves no delivery and nothing in the store. Killing sftp alone makes its
// ssh child close the channel; killing the whole client (sftp and ssh)
// drops the TCP connection.
func TestTransferClientKilled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group bool
	}{{"sftp killed", false}, {"sftp and ssh killed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, nil)
			cmd, _ := startSlowPut(t, g, "k.age", ageBytes(20_000_000), "800")
			pid := cmd.Process.Pid
			xferWait(t, "the server to receive data", func() bool { return g.xferUploadActive("k.age", 64<<10) != nil })
			if tc.group {
				syscall.Kill(-pid, syscall.SIGKILL)
			} else {
				cmd.Process.Kill()
			}
			cmd.Wait()
			xferWait(t, "upload.aborted", func() bool { return len(g.xferAuditFor(EventUploadAborted, "k.age")) > 0 })
			ev := g.xferAuditFor(EventUploadAborted, "k.age")
			if len(ev) != 1 || ev[0]["reason"] != "broken" {
				t.Errorf("upload.aborted events %v, want one with reason broken", ev)
			}
			if n, _ := ev[0]["bytes_received"].(float64); n < 64<<10 || n >= 20_000_000 {
				t.Errorf("bytes_received %v, want a part of the file", ev[0]["bytes_received"])
			}
			if ds := g.deliveries("acme"); len(ds) != 0 {
				t.Errorf("deliveries %v, want none", ds)
			}
			if n := len(g.xferAudit(EventUploadCommitted)); n != 0 {
				t.Errorf("%d upload.committed events, want 0", n)
			}
			g.xferAssertNoLeftover(t)
			// The server goes on serving.
			g.file("after.age", ageBytes(1000))
			if _, stderr, code := g.sftp("acme", "put after.age /upload/after.age\n"); code != 0 {
				t.Fatalf("upload after the kill: sftp exit %d: %s", code, stderr)
			}
			if n := len(g.deliveries("acme")); n != 1 {
				t.Errorf("%d deliveries after the kill, want 1", n)
			}
		})
	}
}

// TestTransferStatSetstat: what clients do around an upload works: stat of
// the file just uploaded, chmod, put -p (times and modes), ls of /upload.
func TestTransferStatSetstat(t *testing.T) {
	g := startGateway(t, nil)
	g.file("a.age", ageBytes(123_456))
	g.file("b.age", ageBytes(2_000))
	stdout, stderr, code := g.sftp("acme", strings.Join([]string{
		"put a.age /upload/a.age",
		"ls -l /upload/a.age",
		"chmod 600 /upload/a.age",
		"put -p b.age /upload/b.age",
		"ls -l /upload/b.age",
		"ls /upload",
		"",
	}, "\n"))
	if code != 0 {
		t.Fatalf("sftp exit %d: %s\n%s", code, stderr, stdout)
	}
	for file, size := range map[string]int{"a.age": 123_456, "b.age": 2_000} {
		line := xferLsLine(stdout, "/upload/"+file)
		f := strings.Fields(line)
		if len(f) < 5 || f[4] != strconv.Itoa(size) {
			t.Errorf("ls -l /upload/%s: %q, want size %d", file, line, size)
		}
	}
	ds := g.deliveries("acme")
	if len(ds) != 2 {
		t.Fatalf("%d deliveries, want 2", len(ds))
	}
	// Stat of an upload of another session: not found (write-only folder).
	_, _, code = g.sftp("acme", "ls -l /upload/a.age\n")
	if code == 0 {
		t.Errorf("ls -l of a file another session uploaded: exit 0, want failure")
	}
}

// xferLsLine returns the line of sftp's output that lists path (not the echoed
// command).
func xferLsLine(out, path string) string {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "sftp>") && strings.HasSuffix(strings.TrimSpace(line), path) {
			return line
		}
	}
	return ""
}

// TestTransferFilepart: WinSCP's upload to NAME.filepart and rename to NAME
// makes one delivery named NAME; a .filepart never renamed is discarded.
func TestTransferFilepart(t *testing.T) {
	g := startGateway(t, nil)
	data := ageBytes(200_000)
	g.file("a.age", data)
	stdout, stderr, code := g.sftp("acme", "put a.age /upload/a.age.filepart\nrename /upload/a.age.filepart /upload/a.age\n")
	if code != 0 {
		t.Fatalf("sftp exit %d: %s\n%s", code, stderr, stdout)
	}
	ds := g.deliveries("acme")
	if len(ds) != 1 || ds[0].FileName != "a.age" || ds[0].SHA256 != upSHA256(data) || ds[0].Size != int64(len(data)) {
		t.Fatalf("deliveries %+v, want one a.age with sha256 %s", ds, upSHA256(data))
	}
	committed := g.xferAudit(EventUploadCommitted)
	if len(committed) != 1 || committed[0]["file"] != "a.age" || committed[0]["delivery"] != ds[0].ID {
		t.Errorf("upload.committed events %v, want one of a.age as %s", committed, ds[0].ID)
	}

	// Renaming anything else is denied.
	for _, batch := range []string{
		"rename /upload/b.age.filepart /upload/b.age\n",                                   // nothing uploaded
		"put a.age /upload/c.age.filepart\nrename /upload/c.age.filepart /upload/d.age\n", // another name
		"put a.age /upload/e.age\nrename /upload/e.age /upload/f.age\n",                   // not a .filepart
	} {
		if _, _, code := g.sftp("acme", batch); code == 0 {
			t.Errorf("batch %q: exit 0, want failure", batch)
		}
	}
	xferWait(t, "the session of c.age.filepart to end", func() bool {
		return len(g.xferAuditFor(EventUploadAborted, "c.age.filepart")) == 1
	})
	if n := len(g.deliveries("acme")); n != 2 { // a.age and e.age
		t.Errorf("%d deliveries, want 2", n)
	}

	// Never renamed: discarded when the session ends.
	g2 := startGateway(t, nil)
	g2.file("a.age", data)
	if _, stderr, code := g2.sftp("acme", "put a.age /upload/a.age.filepart\n"); code != 0 {
		t.Fatalf("sftp exit %d: %s", code, stderr)
	}
	xferWait(t, "the session to end", func() bool { return len(g2.xferAudit(EventDisconnect)) == 1 })
	ev := g2.xferAuditFor(EventUploadAborted, "a.age.filepart")
	if len(ev) != 1 || ev[0]["reason"] != "filepart_not_renamed" {
		t.Errorf("upload.aborted events %v, want one with reason filepart_not_renamed", ev)
	}
	if ds := g2.deliveries("acme"); len(ds) != 0 {
		t.Errorf("deliveries %v, want none", ds)
	}
	g2.xferAssertNoLeftover(t)
}

func TestTransferSameNameTwice(t *testing.T) {
	g := startGateway(t, nil)
	one, two := ageBytes(10_000), ageBytes(20_000)
	g.file("one.age", one)
	g.file("two.age", two)
	if _, stderr, code := g.sftp("acme", "put one.age /upload/x.age\nput two.age /upload/x.age\n"); code != 0 {
		t.Fatalf("sftp exit %d: %s", code, stderr)
	}
	if _, stderr, code := g.sftp("acme", "put one.age /upload/x.age\n"); code != 0 {
		t.Fatalf("sftp exit %d: %s", code, stderr)
	}
	ds := g.deliveries("acme")
	var got []string
	for _, m := range ds {
		if m.FileName != "x.age" {
			t.Errorf("delivery %s named %s, want x.age", m.ID, m.FileName)
		}
		got = append(got, m.SHA256)
	}
	slices.Sort(got)
	want := []string{upSHA256(one), upSHA256(one), upSHA256(two)}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("delivery hashes %v, want %v", got, want)
	}
	if len(ds) == 3 && (ds[0].ID == ds[1].ID || ds[1].ID == ds[2].ID) {
		t.Errorf("delivery ids %s %s %s, want distinct", ds[0].ID, ds[1].ID, ds[2].ID)
	}
}

func TestTransferOutbox(t *testing.T) {
	g := startGateway(t, nil)
	report := []byte(`{"delivery_id":"20261123T101500.123Z-3f9a1c2e","status":"accepted"}` + "\n")
	if err := g.st.Put(context.Background(), "outbox/acme/r1.json", bytes.NewReader(report)); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := g.sftp("acme", "ls /outbox\nget /outbox/r1.json got.json\n")
	if code != 0 {
		t.Fatalf("sftp exit %d: %s", code, stderr)
	}
	if line := xferLsLine(stdout, "r1.json"); line == "" {
		t.Errorf("ls /outbox printed %q, want r1.json", stdout)
	}
	got, err := os.ReadFile(filepath.Join(g.dir, "got.json"))
	if err != nil || !bytes.Equal(got, report) {
		t.Errorf("get /outbox/r1.json = %q, %v; want %q", got, err, report)
	}

	// Another tenant sees nothing of it.
	stdout, _, code = g.sftp("zon", "ls /outbox\n")
	if code != 0 || strings.Contains(stdout, "r1.json") {
		t.Errorf("zon: ls /outbox exit %d, output %q; want 0 without r1.json", code, stdout)
	}
	for _, batch := range []string{"get /outbox/r1.json zon.json\n", "get /outbox/../outbox/r1.json zon.json\n"} {
		if _, _, code := g.sftp("zon", batch); code == 0 {
			t.Errorf("zon: %q exit 0, want failure", batch)
		}
	}
	if _, err := os.Stat(filepath.Join(g.dir, "zon.json")); !os.IsNotExist(err) {
		t.Errorf("zon got a local copy of acme's report (stat: %v)", err)
	}
}

// TestTransferAudit: the audit events of a session, with who, where, which
// key and what was stored, and never the content.
func TestTransferAudit(t *testing.T) {
	g := startGateway(t, nil)
	const marker = "PERSONAL-DATA-MARKER-6c1f"
	data := ageBytes(50_000)
	copy(data[1000:], marker)
	g.file("m.age", data)
	plain := []byte("bsn;naam\n" + marker + ";" + strings.Repeat("x", 100) + "\n")
	g.file("p.csv.age", plain)
	if _, stderr, code := g.sftp("acme", "put m.age /upload/m.age\n"); code != 0 {
		t.Fatalf("sftp exit %d: %s", code, stderr)
	}
	if _, _, code := g.sftp("acme", "put p.csv.age /upload/p.csv.age\n"); code == 0 {
		t.Fatal("upload of plaintext: exit 0, want failure")
	}
	xferWait(t, "both sessions to end", func() bool { return len(g.xferAudit(EventDisconnect)) == 2 })

	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(g.d.Tenants["acme"].SSHKeys[0]))
	if err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(pub)
	auth := g.xferAudit(EventAuthSuccess)
	if len(auth) != 2 {
		t.Fatalf("%d auth.success events, want 2", len(auth))
	}
	sessions := map[any]bool{}
	for _, e := range auth {
		if e["tenant"] != "acme" || e["key_fingerprint"] != fp || e["method"] != "publickey" || !strings.HasPrefix(fmt.Sprint(e["addr"]), "127.0.0.1:") {
			t.Errorf("auth.success %v, want tenant acme, key_fingerprint %s, method publickey, addr 127.0.0.1:*", e, fp)
		}
		sessions[e["session"]] = true
	}
	if len(sessions) != 2 {
		t.Errorf("session ids %v, want 2 distinct", sessions)
	}

	ds := g.deliveries("acme")
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	if ds[0].KeyFingerprint != fp || !strings.HasPrefix(ds[0].RemoteAddr, "127.0.0.1:") {
		t.Errorf("delivery key_fingerprint %q remote_addr %q, want %s and 127.0.0.1:*", ds[0].KeyFingerprint, ds[0].RemoteAddr, fp)
	}
	started := g.xferAuditFor(EventUploadStarted, "m.age")
	if len(started) != 1 || started[0]["tenant"] != "acme" || !sessions[started[0]["session"]] {
		t.Errorf("upload.started events %v, want one of acme in an authenticated session", started)
	}
	committed := g.xferAuditFor(EventUploadCommitted, "m.age")
	if len(committed) != 1 {
		t.Fatalf("upload.committed events %v, want 1", committed)
	}
	c := committed[0]
	if c["tenant"] != "acme" || c["delivery"] != ds[0].ID || c["size"] != float64(len(data)) || c["sha256"] != upSHA256(data) ||
		c["key_fingerprint"] != fp || c["addr"] != ds[0].RemoteAddr || c["session"] != started[0]["session"] {
		t.Errorf("upload.committed %v, want tenant acme, delivery %s, size %d, sha256 %s, key_fingerprint %s, addr %s",
			c, ds[0].ID, len(data), upSHA256(data), fp, ds[0].RemoteAddr)
	}
	refused := g.xferAuditFor(EventUploadRefused, "p.csv.age")
	if len(refused) != 1 || refused[0]["reason"] != "not_encrypted" || refused[0]["tenant"] != "acme" {
		t.Errorf("upload.refused events %v, want one with reason not_encrypted", refused)
	}
	for _, e := range g.xferAudit(EventDisconnect) {
		if e["tenant"] != "acme" || !sessions[e["session"]] {
			t.Errorf("session.closed %v, want tenant acme and an authenticated session", e)
		}
	}
	if logs := g.logs.String(); strings.Contains(logs, marker) || strings.Contains(logs, "bsn;naam") {
		t.Errorf("the audit log holds uploaded content:\n%s", logs)
	}
	// Every line is one JSON object with an event of the closed set.
	known := map[string]bool{EventAuthSuccess: true, EventAuthFailed: true, EventAddrBanned: true, EventConnRefused: true,
		EventUploadStarted: true, EventUploadCommitted: true, EventUploadRefused: true, EventUploadAborted: true,
		EventDisconnect: true, EventDenied: true}
	for _, line := range strings.Split(strings.TrimSpace(g.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line %q: %v", line, err)
			continue
		}
		if ev, ok := m["event"].(string); ok && !known[ev] {
			t.Errorf("log line with unknown event %q", ev)
		}
	}
}

// TestTransferRefusedOnce: a client with many writes in flight (pkg/sftp's
// own client sends up to 64 at once) is refused once: one message, one
// audit event, however many of its writes the server had taken.
func TestTransferRefusedOnce(t *testing.T) {
	g := startGateway(t, nil)
	key, err := os.ReadFile(g.keys["acme"])
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", g.addr, &ssh.ClientConfig{User: "acme", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := sftp.NewClient(conn, sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.Create("/upload/plain.csv.age")
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("clientnummer;meetdatum;score\nCL1001;2026-01-05;71\n"), 4<<20/50)
	if _, err := f.ReadFrom(bytes.NewReader(plain)); err == nil {
		t.Error("upload of plaintext succeeded, want an error")
	}
	f.Close()
	c.Close()
	conn.Close()
	xferWait(t, "the session to end", func() bool { return len(g.xferAudit(EventDisconnect)) == 1 })
	ev := g.xferAuditFor(EventUploadRefused, "plain.csv.age")
	if len(ev) != 1 || ev[0]["reason"] != "not_encrypted" {
		t.Errorf("%d upload.refused events (first %v), want one with reason not_encrypted", len(ev), ev[:min(len(ev), 1)])
	}
	g.xferAssertNoLeftover(t)
}
