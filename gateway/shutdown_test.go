package gateway

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Shutdown (what serve does on SIGTERM): no new sessions; uploads in
// progress may finish within the grace period, else they are discarded
// whole. The clients are slowed down with sftp's bandwidth limit (-l, in
// Kbit/s) so that an upload is surely running when Shutdown begins; every
// wait is for an event, with a deadline, never a timing assertion.

// shutdownClient starts a slow sftp upload of data as tenant acme.
// It returns a channel that receives the client's exit code, and its output.
func shutdownClient(t *testing.T, g *gw, name string, data []byte, kbits string) (chan int, *bytes.Buffer) {
	t.Helper()
	cmd, out := startSlowPut(t, g, name, data, kbits)
	exit := make(chan int, 1)
	go func() {
		cmd.Wait()
		exit <- cmd.ProcessState.ExitCode()
	}()
	return exit, out
}

// startSlowPut starts an sftp upload of data as tenant acme, limited to
// kbits Kbit/s, in a process group of its own that is killed when the test
// ends. The caller waits for cmd.
func startSlowPut(t *testing.T, g *gw, name string, data []byte, kbits string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	g.file(name, data)
	cmd := g.xferSFTPCmd("acme", "put "+name+" /upload/"+name+"\n", "-l", kbits)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second // ssh may hold the output pipes a moment longer
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
	return cmd, &out
}

// closing reports whether Shutdown has begun.
func (g *gw) closing() bool {
	g.srv.mu.Lock()
	defer g.srv.mu.Unlock()
	return g.srv.closing
}

// stopAsync runs g.stop(grace) and closes the returned channel when it
// returned.
func (g *gw) stopAsync(grace time.Duration) chan struct{} {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		g.stop(grace)
	}()
	return stopped
}

func TestShutdownLetsUploadsFinish(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	data := ageBytes(1_500_000) // about 6 s at 2000 Kbit/s
	exit, out := shutdownClient(t, g, "slow.age", data, "2000")
	xferWait(t, "the upload to be under way", func() bool { return g.xferUploadActive("slow.age", 64<<10) != nil })

	stopped := g.stopAsync(30 * time.Second)
	xferWait(t, "Shutdown to begin", g.closing)
	// No new session once Shutdown has begun.
	g.file("late.age", ageBytes(1000))
	if _, _, code := g.sftp("acme", "put late.age /upload/late.age\n"); code == 0 {
		t.Error("a connection after Shutdown began: sftp exit 0, want failure")
	}

	var code int
	select {
	case code = <-exit:
	case <-time.After(2 * time.Minute):
		t.Fatal("the slow client did not end")
	}
	<-stopped
	// Had Shutdown not waited, the connection would have been closed under
	// the upload: no delivery, and the client would have failed.
	ds := g.deliveries("acme")
	if len(ds) != 1 || ds[0].FileName != "slow.age" || ds[0].Size != int64(len(data)) || ds[0].SHA256 != upSHA256(data) {
		t.Fatalf("deliveries %+v, want slow.age of %d bytes with sha256 %s", ds, len(data), upSHA256(data))
	}
	if code != 0 {
		t.Errorf("the client of the upload that finished: exit %d, want 0: %s", code, out)
	}
	if ev := g.xferAudit(EventUploadAborted); len(ev) != 0 {
		t.Errorf("upload.aborted events %v, want none", ev)
	}
	if tmp := g.xferTemps(); len(tmp) != 0 {
		t.Errorf("temporary files %v, want none", tmp)
	}
}

func TestShutdownDiscardsUnfinishedUploads(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	data := ageBytes(5_000_000) // more than 3 minutes at 200 Kbit/s
	exit, out := shutdownClient(t, g, "slower.age", data, "200")
	xferWait(t, "the upload to be under way", func() bool { return g.xferUploadActive("slower.age", 32<<10) != nil })

	<-g.stopAsync(200 * time.Millisecond)
	select {
	case code := <-exit:
		if code == 0 {
			t.Errorf("the client of the discarded upload: exit 0, want failure: %s", out)
		}
	case <-time.After(time.Minute):
		t.Fatal("the client did not end after its connection was closed")
	}
	ev := g.xferAuditFor(EventUploadAborted, "slower.age")
	if len(ev) != 1 || ev[0]["reason"] != "shutdown" {
		t.Errorf("upload.aborted events %v, want one with reason shutdown", ev)
	}
	if ds := g.deliveries("acme"); len(ds) != 0 {
		t.Errorf("deliveries %v, want none", ds)
	}
	if n := len(g.xferAudit(EventUploadCommitted)); n != 0 {
		t.Errorf("%d upload.committed events, want 0", n)
	}
	g.xferAssertNoLeftover(t)
	g.d.mu.Lock()
	active := len(g.d.active)
	g.d.mu.Unlock()
	if active != 0 {
		t.Errorf("%d uploads still in progress after Shutdown, want 0", active)
	}
}

// TestShutdownPacketCount: Shutdown tells an idle connection by counting
// SFTP packets (uint32 length, then the body) in the bytes read and
// written, which arrive in pieces of any size.
func TestShutdownPacketCount(t *testing.T) {
	var stream []byte
	lengths := []int{5, 1, 0, 40_000, 300, 32_768 + 13}
	var ends []int // offset after each packet
	for _, n := range lengths {
		stream = append(stream, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		stream = append(stream, bytes.Repeat([]byte{0xAB}, n)...)
		ends = append(ends, len(stream))
	}
	for _, piece := range []int{1, 3, 4, 7, 1000, len(stream)} {
		var c packetCount
		for off := 0; off < len(stream); off += piece {
			end := min(off+piece, len(stream))
			c.add(stream[off:end])
			want := int64(0)
			for _, e := range ends {
				if e <= end {
					want++
				}
			}
			if c.n != want {
				t.Fatalf("pieces of %d, after %d bytes: %d packets, want %d", piece, end, c.n, want)
			}
			if wantPartial := !slices.Contains(ends, end); c.partial() != wantPartial {
				t.Fatalf("pieces of %d, after %d bytes: partial %v, want %v", piece, end, c.partial(), wantPartial)
			}
		}
	}
}

// TestShutdownBeforeServe: a Shutdown that comes before Serve has taken its
// listener (a server stopped right after it was started) still ends Serve,
// and closes the listener.
func TestShutdownBeforeServe(t *testing.T) {
	z := newUpZone(t, 1<<20)
	_, hk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hk)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewSFTPServer(z.d, []ssh.Signer{signer})
	srv.Shutdown(t.Context())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Shutdown: %v, want nil", err)
		}
	case <-time.After(xferWaitDeadline):
		ln.Close()
		t.Fatal("Serve did not return after Shutdown")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts connections after Shutdown")
	}
}
