package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestSmokeUploadWithOpenSSH(t *testing.T) {
	g := startGateway(t, nil)
	data := ageBytes(100_000)
	g.file("a.csv.age", data)
	_, stderr, code := g.sftp("acme", "put a.csv.age /upload/a.csv.age\n")
	if code != 0 {
		t.Fatalf("sftp exit %d: %s", code, stderr)
	}
	ds := g.deliveries("acme")
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	sum := sha256.Sum256(data)
	if ds[0].SHA256 != hex.EncodeToString(sum[:]) || ds[0].Size != int64(len(data)) || ds[0].Channel != "sftp" {
		t.Errorf("delivery %+v, want sha256 %x size %d channel sftp", ds[0], sum, len(data))
	}
}
