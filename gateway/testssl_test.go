package gateway

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttpgate/ttpgate/internal/testenv"
)

// TestSSLScan runs scripts/testssl.sh: ttpgate serve's S3 endpoint scanned
// with testssl.sh must offer TLS 1.2 and 1.3 only, only AEAD ciphers, and
// show no vulnerable finding. It takes a minute or more.
func TestSSLScan(t *testing.T) {
	if testing.Short() {
		t.Skip("testssl.sh scan (a minute or more)")
	}
	testenv.Tool(t, "testssl", "apt-get install -y testssl.sh")
	testenv.Tool(t, "python3", "apt-get install -y python3")
	script := filepath.Join(testenv.RepoRoot(t), "scripts", "testssl.sh")
	cmd := exec.CommandContext(t.Context(), "bash", script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/testssl.sh: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"testssl.sh: OK", "TLS 1.2    offered", "TLS 1.3    offered"} {
		if !strings.Contains(s, want) {
			t.Errorf("scripts/testssl.sh output lacks %q:\n%s", want, s)
		}
	}
	if i := strings.Index(s, "=== testssl.sh summary"); i >= 0 {
		t.Log(s[i:])
	}
}
