package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/ttpgate/ttpgate/crypto"
)

// TestWarnOpenPGPExpiry: a processor key that senders cannot encrypt to
// now, or will not in 60 days, is warned about by its fingerprint.
func TestWarnOpenPGPExpiry(t *testing.T) {
	now := time.Now()
	e, err := openpgp.NewEntity("ttpgate test", "", "", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 90 * 24 * 3600, Time: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	file := filepath.Join(t.TempDir(), "openpgp.key")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.LoadOpenPGPKeys(file)
	if err != nil {
		t.Fatal(err)
	}
	fpr := keys[0].Fingerprint()
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{now, ""},
		{now.Add(31 * 24 * time.Hour), "ttpgate: warning: OpenPGP key " + fpr + " expires within 60 days: make a new key and give senders its public key\n"},
		{now.Add(91 * 24 * time.Hour), "ttpgate: warning: OpenPGP key " + fpr + " is expired or revoked: senders cannot encrypt to it (it still decrypts older messages)\n"},
	} {
		var out strings.Builder
		warnOpenPGPExpiry(&out, keys, c.at)
		if out.String() != c.want {
			t.Errorf("at %s: %q, want %q", c.at.Format(time.DateOnly), out.String(), c.want)
		}
	}
}
