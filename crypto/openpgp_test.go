package crypto

import (
	"bytes"
	"compress/flate"
	stdcrypto "crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/ttpgate/ttpgate/internal/testenv"
)

// vectorKeys returns the throwaway processor key of testdata/openpgp.
func vectorKeys(t testing.TB) Keyring {
	t.Helper()
	keys, err := parseOpenPGPKeys(mustRead(t, "testdata/openpgp/test-only-key.asc"))
	if err != nil {
		t.Fatal(err)
	}
	return Keyring{OpenPGP: keys}
}

// decryptAll decrypts ct with keys and reads the plaintext to its end; the
// error is Decrypt's or Read's.
func decryptAll(ct []byte, keys Keyring) ([]byte, error) {
	r, err := Decrypt(bytes.NewReader(ct), keys)
	if err != nil {
		return nil, err
	}
	return readAll(r)
}

// sentinels are the branches a caller takes on a decryption error.
var sentinels = []error{ErrNotEncrypted, ErrUnsupportedFormat, ErrNoIntegrityProtection, ErrNoMatchingKey,
	ErrPassphraseOnly, ErrCorrupt, ErrDecompressionLimit}

// wantOnly checks that err wraps exactly the sentinels in want.
func wantOnly(t *testing.T, err error, want ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	for _, s := range sentinels {
		if got, w := errors.Is(err, s), slices.Contains(want, s); got != w {
			t.Errorf("error %q: errors.Is(%q) = %v, want %v", err, s, got, w)
		}
	}
}

// The vectors were made by gpg 2.2 (testdata/openpgp/generate.sh), so
// these run where gpg is not installed too.
func TestDecryptOpenPGPVectors(t *testing.T) {
	keys := vectorKeys(t)
	plain := mustRead(t, "testdata/openpgp/plain.csv")
	for _, name := range []string{
		"plain.gpg",              // gpg's default for a gpg key: ZLIB
		"plain-uncompressed.gpg", // --compress-algo none
		"plain.asc",              // --armor
		"plain-bzip2-signed.gpg", // BZip2, signed by a key we do not have
		"plain-hidden.gpg",       // --throw-keyids, two recipients: ours second
	} {
		t.Run(name, func(t *testing.T) {
			ct := mustRead(t, "testdata/openpgp/"+name)
			if f := DetectFormat(ct); f != FormatOpenPGP {
				t.Errorf("DetectFormat = %v, want openpgp", f)
			}
			got, err := decryptAll(ct, keys)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Errorf("decrypted %q, want %q", got, plain)
			}
		})
	}
	uncompressed := mustRead(t, "testdata/openpgp/plain-uncompressed.gpg")
	for _, tt := range []struct {
		name  string
		input []byte
		want  []error
	}{
		{"other.gpg", nil, []error{ErrNoMatchingKey}},
		{"symmetric.gpg", nil, []error{ErrNoMatchingKey, ErrPassphraseOnly}},
		{"no-mdc.gpg", nil, []error{ErrUnsupportedFormat, ErrNoIntegrityProtection}},
		{"signed-only.asc", nil, []error{ErrNotEncrypted}},
		{"no session key packet", uncompressed[2+int(uncompressed[1]):], []error{ErrCorrupt}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.input == nil {
				tt.input = mustRead(t, "testdata/openpgp/"+tt.name)
			}
			r, err := Decrypt(bytes.NewReader(tt.input), keys)
			if r != nil {
				t.Errorf("got a reader, and error %v", err)
			}
			wantOnly(t, err, tt.want...)
		})
	}
}

// ourKey is the OpenPGP key GenerateKeys makes, with its files.
type ourKey struct {
	dir      string // the keys folder
	keys     Keyring
	pub, sec string // paths of openpgp.pub.asc and openpgp.key
}

func newOurKey(t testing.TB) ourKey {
	t.Helper()
	dir := t.TempDir()
	generate(t, dir)
	k := ourKey{dir: dir, pub: filepath.Join(dir, OpenPGPPublicKeyFile), sec: filepath.Join(dir, OpenPGPKeyFile)}
	keys, err := LoadOpenPGPKeys(k.sec)
	if err != nil {
		t.Fatal(err)
	}
	k.keys = Keyring{OpenPGP: keys}
	return k
}

// csvPlaintext returns about size bytes of CSV that compresses as an
// extract does.
func csvPlaintext(size int) []byte {
	var b bytes.Buffer
	b.WriteString("bsn;client_id;agb_organisatie;meetdatum;score\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%09d;C%07d;940%05d;2026-%02d-%02d;%d\n", 100000000+i*7919, i*31, i%7, 1+i%12, 1+i%28, i%181)
	}
	return b.Bytes()
}

// TestDecryptGPG decrypts what gpg encrypts, as senders run it, for every
// combination of processor key (ours from GenerateKeys, and an RSA-4096 and
// a Curve25519 key made by gpg and exported with --export-secret-keys
// --armor), compression, signature and armour.
func TestDecryptGPG(t *testing.T) {
	gpgKeys := testenv.GPGRecipientKeys(t)
	ours := newOurKey(t)
	plaintext := csvPlaintext(300 << 10) // several partial-length chunks
	in := writeFile(t, t.TempDir(), "extract.csv", 0o600, plaintext)

	type procKey struct {
		name          string
		keys          Keyring
		recipientArgs func(g *testenv.GPG) []string
	}
	gpgKey := func(name string, secret []byte) procKey {
		keys, err := parseOpenPGPKeys(secret)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The sender has the public key only.
		pub := exportPublic(t, keys)
		return procKey{name, Keyring{OpenPGP: keys}, func(g *testenv.GPG) []string {
			return []string{"--recipient-file", writeFile(t, g.Home, "processor.pub.asc", 0o644, pub)}
		}}
	}
	procKeys := []procKey{
		{"ttpgate keygen", ours.keys, func(*testenv.GPG) []string { return []string{"--recipient-file", ours.pub} }},
		gpgKey("gpg RSA-4096", gpgKeys.RSA4096),
		gpgKey("gpg Curve25519", gpgKeys.Curve25519),
	}
	cases := 0
	for _, pk := range procKeys {
		t.Run(pk.name, func(t *testing.T) {
			g := testenv.NewGPG(t) // the sender's home
			signer := g.GenKey("vendor <vendor@example.invalid>", "ed25519")
			recipient := pk.recipientArgs(g)
			for _, compress := range []string{"default", "zlib", "zip", "bzip2", "none"} {
				for _, signed := range []bool{false, true} {
					for _, armored := range []bool{false, true} {
						name := fmt.Sprintf("%s/signed=%v/armor=%v", compress, signed, armored)
						t.Run(name, func(t *testing.T) {
							args := slices.Clone(recipient)
							if compress != "default" {
								args = append(args, "--compress-algo", compress)
							}
							if signed {
								args = append(args, "--sign", "--local-user", signer, "--passphrase", "")
							}
							if armored {
								args = append(args, "--armor")
							}
							ct := g.Run(nil, append(args, "--encrypt", "--output", "-", in)...)
							cases++
							checkGPGMessage(t, ct, pk.keys, plaintext, compress, signed, armored)
						})
					}
				}
			}
		})
	}
	t.Logf("%d gpg messages decrypted", cases)
}

// checkGPGMessage decrypts ct and checks it is what gpg was asked to make.
func checkGPGMessage(t *testing.T, ct []byte, keys Keyring, plaintext []byte, compress string, signed, armored bool) {
	t.Helper()
	if f := DetectFormat(ct); f != FormatOpenPGP {
		t.Errorf("DetectFormat = %v, want openpgp", f)
	}
	if got := bytes.HasPrefix(ct, []byte(pgpArmorHeader)); got != armored {
		t.Errorf("armoured %v, want %v", got, armored)
	}
	r, err := Decrypt(iotest.HalfReader(bytes.NewReader(ct)), keys)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if err := iotest.TestReader(r, plaintext); err != nil {
		t.Fatalf("plaintext: %v", err)
	}
	// Independently of Decrypt: what gpg made, as go-crypto reads it.
	bin := ct
	if armored {
		block, err := armor.Decode(bytes.NewReader(ct))
		if err != nil {
			t.Fatal(err)
		}
		bin, _ = io.ReadAll(block.Body)
	}
	compressed := len(bin) < len(plaintext)/2 // the CSV compresses 3 times or more
	if want := compress != "none"; compressed != want {
		// gpg's default for our key is uncompressed (its first preference).
		if !(compress == "default" && !compressed) {
			t.Errorf("message of %d bytes for %d of plaintext: compressed %v, want %v", len(bin), len(plaintext), compressed, want)
		}
	}
	md, err := openpgp.ReadMessage(bytes.NewReader(bin), openpgp.EntityList{keys.OpenPGP[0].entity}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, md.UnverifiedBody)
	if md.IsSigned != signed {
		t.Errorf("signed %v, want %v", md.IsSigned, signed)
	}
}

// exportPublic returns the armoured public keys of keys.
func exportPublic(t testing.TB, keys []*OpenPGPKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := armored(&buf, openpgp.PublicKeyType, func(w io.Writer) error {
		for _, k := range keys {
			if err := k.entity.Serialize(w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecryptGPGRejections: what gpg makes that must be refused, each with
// its own reason.
func TestDecryptGPGRejections(t *testing.T) {
	ours := newOurKey(t)
	g := testenv.NewGPG(t)
	other := g.GenKey("someone else <other@example.invalid>", "ed25519")
	plaintext := csvPlaintext(40 << 10)
	in := writeFile(t, t.TempDir(), "extract.csv", 0o600, plaintext)
	toUs := []string{"--recipient-file", ours.pub}
	enc := func(args ...string) []byte { return g.Run(nil, append(args, "--output", "-", in)...) }

	t.Run("for another key", func(t *testing.T) {
		for _, armored := range []string{"--no-armor", "--armor"} {
			_, err := Decrypt(bytes.NewReader(enc("--recipient", other, armored, "--encrypt")), ours.keys)
			wantOnly(t, err, ErrNoMatchingKey)
			if !strings.Contains(err.Error(), "other key") {
				t.Errorf("error %q does not say the message is for another key", err)
			}
		}
	})
	t.Run("symmetric only", func(t *testing.T) {
		for _, armored := range []string{"--no-armor", "--armor"} {
			_, err := Decrypt(bytes.NewReader(enc("--passphrase", "s3cret", armored, "--symmetric")), ours.keys)
			wantOnly(t, err, ErrNoMatchingKey, ErrPassphraseOnly)
		}
	})
	t.Run("passphrase and another key", func(t *testing.T) {
		_, err := Decrypt(bytes.NewReader(enc("--passphrase", "s3cret", "--recipient", other, "--symmetric", "--encrypt")), ours.keys)
		wantOnly(t, err, ErrNoMatchingKey)
	})
	t.Run("passphrase and our key", func(t *testing.T) {
		got, err := decryptAll(enc(append(toUs, "--passphrase", "s3cret", "--symmetric", "--encrypt")...), ours.keys)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Errorf("got %d bytes, %v; want the plaintext", len(got), err)
		}
	})
	t.Run("no integrity protection", func(t *testing.T) {
		// gpg 2.2 still writes a Symmetrically Encrypted Data packet
		// (tag 9, no MDC) when told to follow RFC 2440 with 3DES.
		ct := enc(append(toUs, "--rfc2440", "--cipher-algo", "3DES", "--encrypt")...)
		if tag := packetTagAfterPKESK(t, ct); tag != tagSED {
			t.Fatalf("gpg wrote packet tag %d after the PKESK, want %d", tag, tagSED)
		}
		_, err := Decrypt(bytes.NewReader(ct), ours.keys)
		wantOnly(t, err, ErrUnsupportedFormat, ErrNoIntegrityProtection)
	})
	t.Run("cipher other than AES", func(t *testing.T) {
		for _, cipher := range []string{"3DES", "CAST5"} {
			ct := enc(append(toUs, "--cipher-algo", cipher, "--encrypt")...)
			_, err := Decrypt(bytes.NewReader(ct), ours.keys)
			wantOnly(t, err, ErrUnsupportedFormat)
			if !strings.Contains(err.Error(), "only AES") {
				t.Errorf("%s: error %q does not say only AES is accepted", cipher, err)
			}
		}
		for _, cipher := range []string{"AES", "AES192", "AES256"} {
			if got, err := decryptAll(enc(append(toUs, "--cipher-algo", cipher, "--encrypt")...), ours.keys); err != nil || !bytes.Equal(got, plaintext) {
				t.Errorf("%s: got %d bytes, %v", cipher, len(got), err)
			}
		}
	})
	t.Run("signed only", func(t *testing.T) {
		for _, armored := range []string{"--no-armor", "--armor"} {
			ct := enc("--local-user", other, "--passphrase", "", armored, "--sign")
			if f := DetectFormat(ct); f != FormatUnknown {
				t.Errorf("%s: DetectFormat = %v, want unknown", armored, f)
			}
			_, err := Decrypt(bytes.NewReader(ct), ours.keys)
			wantOnly(t, err, ErrNotEncrypted)
		}
	})

	// Damage: a flipped byte in the encrypted data fails the integrity
	// check (MDC), known at the end of the message for uncompressed data,
	// earlier when the damaged data no longer decompresses.
	for _, compress := range []string{"none", "zlib"} {
		ct := enc(append(toUs, "--compress-algo", compress, "--encrypt")...)
		flip := func(i int) []byte {
			c := bytes.Clone(ct)
			c[i] ^= 0x01
			return c
		}
		pkeskLen := len(ct) - seipdLen(t, ct)
		tests := []struct {
			name      string
			input     []byte
			inDecrypt bool
			says      string
		}{
			{"byte flipped in the middle of the data", flip(pkeskLen + (len(ct)-pkeskLen)/2), false, "integrity check failed"},
			{"byte flipped in the last data block", flip(len(ct) - 30), false, "integrity check failed"},
			{"byte flipped in the MDC", flip(len(ct) - 3), false, "integrity check failed"},
			{"byte flipped in the session key", flip(pkeskLen - 5), true, "session key for our key does not decrypt"},
			{"truncated by 1 byte", ct[:len(ct)-1], false, "cut short"},
			{"truncated by half", ct[:pkeskLen+(len(ct)-pkeskLen)/2], false, "cut short"},
			{"cut after the session key", ct[:pkeskLen], true, "cut short"},
			{"trailing garbage", append(bytes.Clone(ct), 'x'), false, "after the end of the message"},
			{"two messages", append(bytes.Clone(ct), ct...), false, "after the end of the message"},
		}
		for _, tt := range tests {
			t.Run(compress+"/"+tt.name, func(t *testing.T) {
				r, err := Decrypt(bytes.NewReader(tt.input), ours.keys)
				if tt.inDecrypt {
					wantOnly(t, err, ErrCorrupt)
					if !strings.Contains(err.Error(), tt.says) {
						t.Errorf("error %q does not say %q", err, tt.says)
					}
					return
				}
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				_, err = readAll(r) // what it read before is unauthenticated: anything
				wantOnly(t, err, ErrCorrupt)
				if !strings.Contains(err.Error(), tt.says) {
					t.Errorf("error %q does not say %q", err, tt.says)
				}
				if n, err2 := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err2, ErrCorrupt) {
					t.Errorf("Read after the error = %d, %v; want 0, ErrCorrupt (sticky)", n, err2)
				}
			})
		}
	}
	t.Run("armoured, damaged", func(t *testing.T) {
		ct := enc(append(toUs, "--compress-algo", "none", "--armor", "--encrypt")...)
		lines := strings.Split(string(ct), "\n")
		mid := len(lines) / 2
		flipped := slices.Clone(lines)
		c := []byte(flipped[mid])
		c[10] = map[bool]byte{true: 'B', false: 'A'}[c[10] == 'A']
		flipped[mid] = string(c)
		for name, input := range map[string]string{
			"base64 character changed": strings.Join(flipped, "\n"),
			"line dropped":             strings.Join(slices.Delete(slices.Clone(lines), mid, mid+1), "\n"),
			"no END line":              strings.Join(lines[:len(lines)-2], "\n") + "\n",
			"invalid base64":           strings.Replace(string(ct), lines[mid], lines[mid][:10]+"*"+lines[mid][11:], 1),
			"second message after END": string(ct) + string(ct),
			"text after END":           string(ct) + "regards, the vendor\n",
		} {
			t.Run(name, func(t *testing.T) {
				_, err := decryptAll([]byte(input), ours.keys)
				wantOnly(t, err, ErrCorrupt)
			})
		}
		t.Run("white space after END", func(t *testing.T) {
			got, err := decryptAll(append(bytes.Clone(ct), "\n\r\n  \n"...), ours.keys)
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Errorf("got %d bytes, %v; want the plaintext", len(got), err)
			}
		})
	})
}

// packetTagAfterPKESK returns the tag of the packet after the first one
// (a PKESK with a one-octet old-format length, as gpg writes it).
func packetTagAfterPKESK(t *testing.T, ct []byte) int {
	t.Helper()
	if len(ct) < 3 || packetTag(ct[0]) != tagPKESK || ct[0]&0x43 != 0 {
		t.Fatalf("message does not start with an old-format PKESK")
	}
	return packetTag(ct[2+int(ct[1])])
}

// seipdLen returns the length of what follows the first packet.
func seipdLen(t *testing.T, ct []byte) int {
	t.Helper()
	if packetTagAfterPKESK(t, ct) != tagSEIPD {
		t.Fatal("no SEIPD after the PKESK")
	}
	return len(ct) - (2 + int(ct[1]))
}

// encryptGo encrypts plaintext to keys with go-crypto, with cfg.
func encryptGo(t testing.TB, keys []*OpenPGPKey, plaintext io.Reader, cfg *packet.Config, w io.Writer) {
	t.Helper()
	var to []*openpgp.Entity
	for _, k := range keys {
		to = append(to, k.entity)
	}
	pw, err := openpgp.Encrypt(w, to, nil, &openpgp.FileHints{IsBinary: true}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(pw, plaintext); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
}

// A small message that decompresses to much more is stopped once the
// plaintext passes MaxExpansion times the ciphertext read.
func TestDecryptOpenPGPDecompressionBomb(t *testing.T) {
	keys := vectorKeys(t)
	const size = 4 << 20 // zeros: ZLIB makes about 4 KiB of them
	var ct bytes.Buffer
	encryptGo(t, keys.OpenPGP, io.LimitReader(zeros{}, size), &packet.Config{DefaultCompressionAlgo: packet.CompressionZLIB}, &ct)
	if ct.Len() > size/MaxExpansion/2 {
		t.Fatalf("the bomb is %d bytes: not compressed enough to test the limit", ct.Len())
	}
	r, err := Decrypt(bytes.NewReader(ct.Bytes()), keys)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	wantOnly(t, err, ErrDecompressionLimit)
	if max := int64(ExpansionAllowance + MaxExpansion*ct.Len() + 64<<10); n > max {
		t.Errorf("returned %d bytes before stopping, more than %d", n, max)
	}
	if n < ExpansionAllowance {
		t.Errorf("stopped after %d bytes, before the allowance", n)
	}
	t.Logf("a %d-byte message of %d zeros stopped after %d bytes of plaintext", ct.Len(), size, n)

	// A message that compresses as a CSV extract does is well below.
	plain := csvPlaintext(1 << 20)
	ct.Reset()
	encryptGo(t, keys.OpenPGP, bytes.NewReader(plain), &packet.Config{
		DefaultCompressionAlgo: packet.CompressionZLIB, CompressionConfig: &packet.CompressionConfig{Level: 9}}, &ct)
	got, err := decryptAll(ct.Bytes(), keys)
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("CSV compressed %.1f times: got %d bytes, %v", float64(len(plain))/float64(ct.Len()), len(got), err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Decrypting a large message allocates a bounded amount, whatever its size:
// the plaintext streams. (BenchmarkDecryptOpenPGP shows the same per
// operation: about 13 KB for 64 MiB.) Sizes are small because the race
// detector makes go-crypto's CFB slow.
func TestDecryptOpenPGPMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 8 MiB messages")
	}
	keys := vectorKeys(t)
	dir := t.TempDir()
	allocs := map[int]uint64{}
	for _, size := range []int{1 << 20, 8 << 20} {
		for _, v := range []struct {
			compress packet.CompressionAlgo
			armored  bool
		}{{packet.CompressionNone, false}, {packet.CompressionZLIB, true}} {
			path := filepath.Join(dir, fmt.Sprintf("m%d-%d.gpg", size, v.compress))
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			encryptGo(t, keys.OpenPGP, io.LimitReader(randomReader(uint64(size)), int64(size)), &packet.Config{DefaultCompressionAlgo: v.compress}, f)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if v.armored {
				path = armorFile(t, path)
			}
			f, err = os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 32<<10)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r, err := Decrypt(f, keys)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf)
			runtime.ReadMemStats(&after)
			f.Close()
			if err != nil || n != int64(size) {
				t.Fatalf("read %d bytes, %v; want %d", n, err, size)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d MiB, compression %d, armoured %v: %d KiB allocated", size>>20, v.compress, v.armored, alloc>>10)
			if alloc > 1<<20 {
				t.Errorf("%d MiB, compression %d, armoured %v: %d KiB allocated, more than 1 MiB", size>>20, v.compress, v.armored, alloc>>10)
			}
			allocs[size] = max(allocs[size], alloc)
		}
	}
	// Eight times the data does not allocate noticeably more.
	if allocs[8<<20] > allocs[1<<20]+128<<10 {
		t.Errorf("allocated %d KiB for 8 MiB and %d KiB for 1 MiB: grows with the size", allocs[8<<20]>>10, allocs[1<<20]>>10)
	}
}

// randomReader returns a reproducible stream of pseudo-random bytes.
func randomReader(seed uint64) io.Reader {
	return &chachaReader{b: randomBytes(1<<20, seed)}
}

type chachaReader struct {
	b   []byte
	off int
}

func (c *chachaReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.b[c.off:])
		n += k
		c.off = (c.off + k) % len(c.b)
		c.b[c.off] ^= byte(n) // so that the stream does not repeat exactly
	}
	return n, nil
}

// armorFile writes an armoured copy of the binary message at path.
func armorFile(t testing.TB, path string) string {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(path + ".asc")
	if err != nil {
		t.Fatal(err)
	}
	w, err := armor.Encode(out, "PGP MESSAGE", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path + ".asc"
}

// BenchmarkDecryptOpenPGP decrypts a 64 MiB message from memory; B/op stays
// that of a few buffers, whatever the size.
func BenchmarkDecryptOpenPGP(b *testing.B) {
	const size = 64 << 20
	keys := vectorKeys(b)
	var ct bytes.Buffer
	encryptGo(b, keys.OpenPGP, bytes.NewReader(randomBytes(size, 5)), &packet.Config{DefaultCompressionAlgo: packet.CompressionNone}, &ct)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Decrypt(bytes.NewReader(ct.Bytes()), keys)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != size {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}

// An I/O error of the source is not a damaged message: the caller may
// retry.
func TestDecryptOpenPGPSourceError(t *testing.T) {
	keys := vectorKeys(t)
	var ct bytes.Buffer
	encryptGo(t, keys.OpenPGP, bytes.NewReader(randomBytes(200<<10, 9)), nil, &ct)
	armoured := bytes.Buffer{}
	if err := armored(&armoured, "PGP MESSAGE", func(w io.Writer) error { _, err := w.Write(ct.Bytes()); return err }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("store unavailable")
	for name, msg := range map[string][]byte{"binary": ct.Bytes(), "armoured": armoured.Bytes()} {
		for _, n := range []int{10, 100, 300, len(msg) / 2, len(msg) - 1} {
			r, err := Decrypt(io.MultiReader(bytes.NewReader(msg[:n]), iotest.ErrReader(boom)), keys)
			if err == nil {
				_, err = readAll(r)
			}
			if !errors.Is(err, boom) {
				t.Errorf("%s failing after %d bytes: got %v, want the source's error", name, n, err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					t.Errorf("%s failing after %d bytes: %v wraps %v", name, n, err, s)
				}
			}
		}
	}
}

// Armour as other tools write it: headers, CRLF, no CRC, blank lines.
func TestDecryptOpenPGPArmour(t *testing.T) {
	keys := vectorKeys(t)
	plain := mustRead(t, "testdata/openpgp/plain.csv")
	ct := string(mustRead(t, "testdata/openpgp/plain.asc"))
	body := strings.TrimPrefix(ct, pgpArmorHeader+"\n\n")
	noCRC := regexp.MustCompile("\n=[A-Za-z0-9+/]{4}\n").ReplaceAllString(body, "\n")
	for name, input := range map[string]string{
		"headers":           pgpArmorHeader + "\nVersion: GnuPG v2\nComment: GPGTools - https://gpgtools.org\nComment: " + strings.Repeat("x", 200) + "\n\n" + body,
		"CRLF":              strings.ReplaceAll(ct, "\n", "\r\n"),
		"no CRC":            pgpArmorHeader + "\n\n" + noCRC,
		"no blank line":     pgpArmorHeader + "\n" + body,
		"blank lines first": "\n\r\n" + ct,
	} {
		t.Run(name, func(t *testing.T) {
			if f := DetectFormat([]byte(input)); f != FormatOpenPGP {
				t.Errorf("DetectFormat = %v, want openpgp", f)
			}
			got, err := decryptAll([]byte(input), keys)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("got %q, %v; want the plaintext", got, err)
			}
		})
	}
	// A header line without end is refused by the first-bytes check (no
	// packet in SniffLen bytes), not read into memory.
	huge := io.MultiReader(strings.NewReader(pgpArmorHeader+"\nComment: "), zeroText{})
	_, err := Decrypt(huge, keys)
	wantOnly(t, err, ErrNotEncrypted)
}

type zeroText struct{}

func (zeroText) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestLoadOpenPGPKeys(t *testing.T) {
	dir := t.TempDir()
	vector := mustRead(t, "testdata/openpgp/test-only-key.asc")
	keys, err := LoadOpenPGPKeys(writeFile(t, dir, "one.key", 0o600, vector))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || len(keys[0].decrypters) != 1 {
		t.Fatalf("got %d keys, want 1 with one decryption subkey", len(keys))
	}
	// Two files, and a file of two keys.
	ours := newOurKey(t)
	two := append(bytes.Clone(vector), mustRead(t, ours.sec)...)
	all, err := LoadOpenPGPKeys(ours.sec, writeFile(t, dir, "two.key", 0o600, two))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range all {
		got = append(got, k.Fingerprint())
	}
	want := []string{ours.keys.OpenPGP[0].Fingerprint(), keys[0].Fingerprint(), ours.keys.OpenPGP[0].Fingerprint()}
	if !slices.Equal(got, want) {
		t.Errorf("got keys %v, want %v", got, want)
	}
}

func TestLoadOpenPGPKeysErrors(t *testing.T) {
	dir := t.TempDir()
	vector := mustRead(t, "testdata/openpgp/test-only-key.asc")
	pub := exportPublic(t, vectorKeys(t).OpenPGP)
	tests := []struct {
		name string
		mode os.FileMode
		data []byte
		want string
	}{
		{"group-readable", 0o640, vector, "UNPROTECTED PRIVATE KEY FILE"},
		{"empty", 0o600, nil, "not an ASCII-armoured OpenPGP private key"},
		{"binary", 0o600, []byte{0x95, 0x01, 0x02}, "not an ASCII-armoured OpenPGP private key"},
		{"public key", 0o600, pub, "holds a public key, not a private key"},
		{"age identity", 0o600, []byte("AGE-SECRET-KEY-1QQQ\n"), "not an ASCII-armoured OpenPGP private key"},
		{"text before the key", 0o600, append([]byte("my key:\n"), vector...), "not an ASCII-armoured OpenPGP private key"},
		{"private then public", 0o600, append(bytes.Clone(vector), pub...), "holds a public key"},
		{"damaged", 0o600, damagedKey(t, vector), "not a valid OpenPGP private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, tt.name, tt.mode, tt.data)
			_, err := LoadOpenPGPKeys(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			noKeyMaterial(t, err, tt.data)
		})
	}
	if _, err := LoadOpenPGPKeys(); err == nil {
		t.Error("no paths: no error")
	}
}

// damagedKey changes a base64 character in the first key packet of an
// armoured key (in its public key, which its self-signature covers).
func damagedKey(t *testing.T, key []byte) []byte {
	t.Helper()
	lines := strings.Split(string(key), "\n")
	if lines[1] != "" || len(lines[2]) < 60 {
		t.Fatal("unexpected armour layout")
	}
	c := []byte(lines[2])
	c[50] = map[bool]byte{true: 'B', false: 'A'}[c[50] == 'A']
	lines[2] = string(c)
	return []byte(strings.Join(lines, "\n"))
}

// noKeyMaterial fails when err repeats a line of the key file.
func noKeyMaterial(t *testing.T, err error, data []byte) {
	t.Helper()
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line[:16]) {
			t.Errorf("error %q repeats the key file", err)
		}
	}
}

// Keys made by gpg that cannot serve: protected by a passphrase, or
// without an encryption key.
func TestLoadOpenPGPKeysGPG(t *testing.T) {
	g := testenv.NewGPG(t)
	dir := t.TempDir()
	g.Run(nil, "--passphrase", "pw", "--quick-gen-key", "protected <p@example.invalid>", "ed25519", "sign,cert", "never")
	fpr := g.Fingerprint("protected <p@example.invalid>")
	g.Run(nil, "--passphrase", "pw", "--quick-add-key", fpr, "cv25519", "encr", "never")
	protected := g.Run(nil, "--passphrase", "pw", "--export-secret-keys", "--armor", fpr)
	g.Run(nil, "--passphrase", "", "--quick-gen-key", "signer <s@example.invalid>", "ed25519", "sign,cert", "never")
	signOnly := g.ExportSecret(g.Fingerprint("signer <s@example.invalid>"))
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"passphrase", protected, "protected by a passphrase"},
		{"signing key only", signOnly, "has no encryption key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadOpenPGPKeys(writeFile(t, dir, tt.name, 0o600, tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			noKeyMaterial(t, err, tt.data)
		})
	}
}

// The key GenerateKeys makes, as gpg 2.2 sees it, and used by gpg both ways.
func TestGenerateKeysOpenPGPWithGPG(t *testing.T) {
	ours := newOurKey(t)
	g := testenv.NewGPG(t)
	// What gpg reads from the public file: a v4 Ed25519 primary key
	// (algorithm 22) for signing and certification, a Curve25519 ECDH
	// subkey (18) for encryption, the user id, no expiry.
	out := string(g.Run(nil, "--with-colons", "--import-options", "show-only", "--import", ours.pub))
	var pubLine, subLine, fpr, uid string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ":")
		switch {
		case f[0] == "pub":
			pubLine = line
		case f[0] == "sub":
			subLine = line
		case f[0] == "fpr" && fpr == "":
			fpr = f[9]
		case f[0] == "uid":
			uid = f[9]
		}
	}
	pf, sf := strings.Split(pubLine, ":"), strings.Split(subLine, ":")
	if len(pf) < 17 || len(sf) < 17 {
		t.Fatalf("gpg --show-keys:\n%s", out)
	}
	if pf[3] != "22" || pf[16] != "ed25519" || pf[6] != "" || !strings.Contains(pf[11], "s") || !strings.Contains(pf[11], "c") {
		t.Errorf("primary key: algorithm %s curve %s expiry %q usage %q; want 22 ed25519, none, sc", pf[3], pf[16], pf[6], pf[11])
	}
	if sf[3] != "18" || sf[16] != "cv25519" || sf[6] != "" || sf[11] != "e" {
		t.Errorf("subkey: algorithm %s curve %s expiry %q usage %q; want 18 cv25519, none, e", sf[3], sf[16], sf[6], sf[11])
	}
	if fpr != ours.keys.OpenPGP[0].Fingerprint() || len(fpr) != 40 {
		t.Errorf("gpg sees fingerprint %s, the key file has %s (want a v4 fingerprint of 40 digits)", fpr, ours.keys.OpenPGP[0].Fingerprint())
	}
	if uid != OpenPGPUserID {
		t.Errorf("user id %q, want %q", uid, OpenPGPUserID)
	}
	// gpg imports the public key and encrypts to it by fingerprint, as a
	// sender who imported it does.
	g.Run(nil, "--import", ours.pub)
	plaintext := []byte("bsn;client_id\n111222333;c-1\n")
	ct := g.Run(plaintext, "--recipient", fpr, "--encrypt")
	got, err := decryptAll(ct, ours.keys)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Errorf("decrypted %q, %v", got, err)
	}
	// And gpg takes the private key file too, and decrypts what go-crypto
	// encrypts to it: the key is a well-formed key, not only for us.
	g.Run(nil, "--passphrase", "", "--import", ours.sec)
	var buf bytes.Buffer
	encryptGo(t, ours.keys.OpenPGP, bytes.NewReader(plaintext), &packet.Config{DefaultHash: stdcrypto.SHA256}, &buf)
	if got := g.Run(buf.Bytes(), "--passphrase", "", "--decrypt"); !bytes.Equal(got, plaintext) {
		t.Errorf("gpg --decrypt gave %q", got)
	}
}

// FuzzDecryptOpenPGP decrypts damaged messages: never a panic, never an
// error outside the taxonomy, never more plaintext than the limit allows.
func FuzzDecryptOpenPGP(f *testing.F) {
	seeds, err := filepath.Glob("testdata/openpgp/*.[ga][ps][gc]")
	if err != nil || len(seeds) < 8 {
		f.Fatalf("found %d seed messages in testdata/openpgp (%v)", len(seeds), err)
	}
	for _, name := range seeds {
		if strings.HasSuffix(name, "test-only-key.asc") {
			continue
		}
		f.Add(mustRead(f, name))
	}
	keys := vectorKeys(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := Decrypt(bytes.NewReader(msg), keys)
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, r)
			if n > ExpansionAllowance+MaxExpansion*int64(len(msg))+64<<10 {
				t.Errorf("%d bytes of plaintext from %d", n, len(msg))
			}
		}
		if err == nil {
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Errorf("error outside the taxonomy: %v", err)
	})
}

// A keyring decrypts the formats it has keys for, and refuses the others as
// unsupported, not as damaged or for someone else.
func TestDecryptKeyringFormats(t *testing.T) {
	pgp := vectorKeys(t)
	id := newIdentity(t)
	ageFile := encrypt(t, id.Recipient(), []byte("a;b\n"), false)
	pgpFile := mustRead(t, "testdata/openpgp/plain.gpg")
	both := Keyring{Age: []age.Identity{id}, OpenPGP: pgp.OpenPGP}
	for _, tt := range []struct {
		name  string
		input []byte
		keys  Keyring
		want  []error
	}{
		{"age file, OpenPGP keys only", ageFile, pgp, []error{ErrUnsupportedFormat}},
		{"OpenPGP message, age identities only", pgpFile, ageKeys(id), []error{ErrUnsupportedFormat}},
		{"age file, both", ageFile, both, nil},
		{"OpenPGP message, both", pgpFile, both, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decryptAll(tt.input, tt.keys)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantOnly(t, err, tt.want...)
		})
	}
	if _, err := Decrypt(bytes.NewReader(pgpFile), Keyring{}); err == nil || !strings.Contains(err.Error(), "no keys") {
		t.Errorf("empty keyring: got %v", err)
	}
}

// The plaintext is the same whatever sizes the source returns and the
// reader asks for: one byte at a time, or buffers larger than every
// internal one (which bufio passes straight to the source).
func TestDecryptOpenPGPReadSizes(t *testing.T) {
	keys := vectorKeys(t)
	plain := csvPlaintext(200 << 10)
	for _, compress := range []packet.CompressionAlgo{packet.CompressionNone, packet.CompressionZLIB, packet.CompressionZIP} {
		var bin bytes.Buffer
		encryptGo(t, keys.OpenPGP, bytes.NewReader(plain), &packet.Config{DefaultCompressionAlgo: compress}, &bin)
		var asc bytes.Buffer
		if err := armored(&asc, "PGP MESSAGE", func(w io.Writer) error { _, err := w.Write(bin.Bytes()); return err }); err != nil {
			t.Fatal(err)
		}
		for name, ct := range map[string][]byte{"binary": bin.Bytes(), "armoured": asc.Bytes()} {
			for _, size := range []int{1, 7, 512, 32 << 10, 1 << 20} {
				r, err := Decrypt(bytes.NewReader(ct), keys)
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if _, err := io.CopyBuffer(&got, struct{ io.Reader }{r}, make([]byte, size)); err != nil || !bytes.Equal(got.Bytes(), plain) {
					t.Errorf("compression %d, %s, reads of %d: %d bytes, %v", compress, name, size, got.Len(), err)
				}
			}
			r, err := Decrypt(iotest.OneByteReader(bytes.NewReader(ct)), keys)
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(r, plain); err != nil {
				t.Errorf("compression %d, %s, one-byte source: %v", compress, name, err)
			}
		}
	}
}

// rawPacket is a new-format packet with a five-octet length.
func rawPacket(tag byte, body []byte) []byte {
	n := len(body)
	return append([]byte{0xc0 | tag, 0xff, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// literalPacket is a binary literal data packet without file name.
func literalPacket(data []byte) []byte {
	return rawPacket(tagLiteral, append([]byte{'b', 0, 0, 0, 0, 0}, data...))
}

// craftMessage encrypts to keys' first decryption key whatever inner writes
// as the content of a SEIPD v1 packet (with its MDC): a message gpg would
// not make, as a malicious sender could.
func craftMessage(t testing.TB, keys []*OpenPGPKey, inner func(w io.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	key := randomBytes(32, 77)
	if err := packet.SerializeEncryptedKey(&buf, keys[0].decrypters[0].PublicKey, packet.CipherAES256, key, nil); err != nil {
		t.Fatal(err)
	}
	w, err := packet.SerializeSymmetricallyEncrypted(&buf, packet.CipherAES256, false, packet.CipherSuite{}, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	inner(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Inside the encrypted data only a literal data packet, compressed or not,
// with signatures around it, is read; anything else is refused without
// being read, after the integrity check.
func TestDecryptOpenPGPInnerStructure(t *testing.T) {
	keys := vectorKeys(t)
	data := []byte("a;b\n1;2\n")
	write := func(packets ...[]byte) func(io.Writer) {
		return func(w io.Writer) {
			for _, p := range packets {
				w.Write(p)
			}
		}
	}
	uncompressed := func(inner []byte) []byte { return rawPacket(tagCompressed, append([]byte{0}, inner...)) }
	nested := func(depth int) []byte {
		p := literalPacket(data)
		for range depth {
			p = uncompressed(p)
		}
		return p
	}
	tests := []struct {
		name  string
		inner func(io.Writer)
		want  []error // nil: decrypts to data
		says  string
	}{
		{"literal", write(literalPacket(data)), nil, ""},
		{"signatures around", write(rawPacket(tagOnePassSig, make([]byte, 13)), literalPacket(data), rawPacket(tagSignature, make([]byte, 100))), nil, ""},
		{"marker and padding", write(rawPacket(tagMarker, []byte("PGP")), rawPacket(tagPadding, make([]byte, 50)), literalPacket(data)), nil, ""},
		{"compressed three deep", write(nested(3)), nil, ""},
		{"compressed four deep", write(nested(4)), []error{ErrCorrupt}, "nested too deep"},
		{"user id before the literal", write(rawPacket(13, []byte("x")), literalPacket(data)), []error{ErrCorrupt}, "a packet of type 13 in the encrypted data"},
		{"secret key", write(rawPacket(5, make([]byte, 40)), literalPacket(data)), []error{ErrCorrupt}, "a packet of type 5"},
		{"two literals", write(literalPacket(data), literalPacket(data)), []error{ErrCorrupt}, "a packet of type 11 after the literal data"},
		{"no literal", write(rawPacket(tagSignature, make([]byte, 10))), []error{ErrCorrupt}, "no literal data"},
		{"literal cut short", write(literalPacket(data)[:9]), []error{ErrCorrupt}, "unexpected EOF"},
		{"unknown compression", write(rawPacket(tagCompressed, []byte{110, 1, 2, 3})), []error{ErrUnsupportedFormat}, "compression algorithm 110"},
		{"data after the compressed data", write(rawPacket(tagCompressed, append(append([]byte{1}, deflated(t, literalPacket(data))...), 0))), []error{ErrCorrupt}, "after the compressed data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decryptAll(craftMessage(t, keys.OpenPGP, tt.inner), keys)
			if tt.want == nil {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("got %q, %v; want %q", got, err, data)
				}
				return
			}
			wantOnly(t, err, tt.want...)
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

// deflated returns b compressed with raw DEFLATE (OpenPGP's ZIP).
func deflated(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A packet that go-crypto's ReadMessage would read whole into memory (a user
// id of 64 MiB, compressed to some 64 KiB) is refused by its header: memory
// stays small.
func TestDecryptOpenPGPHugePacketRefused(t *testing.T) {
	keys := vectorKeys(t)
	const size = 64 << 20
	// A ZIP-compressed packet holding a user id packet of size zeros, then a
	// literal data packet.
	var inner bytes.Buffer
	zw, err := flate.NewWriter(&inner, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write([]byte{0xc0 | 13, 0xff, size >> 24, size >> 16 & 0xff, size >> 8 & 0xff, size & 0xff})
	io.Copy(zw, io.LimitReader(zeros{}, size))
	zw.Write(literalPacket([]byte("a;b\n")))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	msg := craftMessage(t, keys.OpenPGP, func(w io.Writer) {
		w.Write([]byte{0xc0 | tagCompressed, 0xff})
		n := inner.Len() + 1
		w.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 1})
		w.Write(inner.Bytes())
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = decryptAll(msg, keys)
	runtime.ReadMemStats(&after)
	wantOnly(t, err, ErrCorrupt)
	if !strings.Contains(err.Error(), "a packet of type 13") {
		t.Errorf("error %q does not name the user id packet", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("allocated %d KiB for a %d-byte message", alloc>>10, len(msg))
	}
}

// Before the encrypted data only session-key, marker and padding packets
// may come, few and small.
func TestDecryptOpenPGPOuterStructure(t *testing.T) {
	keys := vectorKeys(t)
	ct := mustRead(t, "testdata/openpgp/plain-uncompressed.gpg")
	pkesk, seipd := ct[:2+int(ct[1])], ct[2+int(ct[1]):]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name  string
		input []byte
		want  []error
		says  string
	}{
		{"marker and padding", cat(pkesk, rawPacket(tagMarker, []byte("PGP")), rawPacket(tagPadding, make([]byte, 100)), seipd), nil, ""},
		{"1000 session keys for others", cat(bytes.Repeat(mustRead(t, "testdata/openpgp/other.gpg")[:96], 999), pkesk, seipd), nil, ""},
		{"1001 session keys", cat(bytes.Repeat(pkesk, 1001), seipd), []error{ErrCorrupt}, "more than 1000 session-key packets"},
		{"a user id", cat(pkesk, rawPacket(13, []byte("x")), seipd), []error{ErrCorrupt}, "a packet of type 13 before the encrypted data"},
		{"a huge session key packet", cat(rawPacket(tagPKESK, append([]byte{3}, make([]byte, 70000)...)), seipd), []error{ErrCorrupt}, "longer than 65536"},
		{"a literal after the session key", cat(pkesk, literalPacket([]byte("a;b\n"))), []error{ErrCorrupt}, "a packet of type 11 before the encrypted data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decryptAll(tt.input, keys)
			if tt.want == nil {
				if err != nil || !bytes.Equal(got, mustRead(t, "testdata/openpgp/plain.csv")) {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			wantOnly(t, err, tt.want...)
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

// hideRecipients zeroes the key ids of the session-key packets (PKESK v3)
// at the start of a binary message, as gpg --hidden-recipient writes them.
func hideRecipients(t *testing.T, ct []byte) []byte {
	t.Helper()
	out := bytes.Clone(ct)
	for off := 0; off < len(out) && out[off]&0x3f == 1; {
		if out[off]&0xc0 != 0xc0 {
			t.Fatalf("packet at %d is not in the new format", off)
		}
		n, hdr := int(out[off+1]), 2
		switch {
		case n >= 192 && n < 224:
			n, hdr = (n-192)<<8+int(out[off+2])+192, 3
		case n >= 224:
			t.Fatalf("unexpected length octet %d", n)
		}
		if out[off+hdr] != 3 {
			t.Fatalf("PKESK version %d, want 3", out[off+hdr])
		}
		clear(out[off+hdr+1 : off+hdr+9])
		off += hdr + n
	}
	return out
}

// TestDecryptOpenPGPHiddenRecipients: session keys for hidden recipients
// are tried against our keys, but at most maxHiddenRecipients of them.
func TestDecryptOpenPGPHiddenRecipients(t *testing.T) {
	ours := newOurKey(t)
	plain := csvPlaintext(2000)
	var others []*OpenPGPKey
	for range maxHiddenRecipients {
		others = append(others, newOurKey(t).keys.OpenPGP[0])
	}
	for _, tc := range []struct {
		before int // hidden session keys for other keys before ours
		ok     bool
	}{{0, true}, {maxHiddenRecipients - 1, true}, {maxHiddenRecipients, false}} {
		var ct bytes.Buffer
		encryptGo(t, append(slices.Clone(others[:tc.before]), ours.keys.OpenPGP[0]), bytes.NewReader(plain), nil, &ct)
		got, err := decryptAll(hideRecipients(t, ct.Bytes()), ours.keys)
		switch {
		case tc.ok && (err != nil || !bytes.Equal(got, plain)):
			t.Errorf("ours after %d hidden: %v, want the plaintext", tc.before, err)
		case !tc.ok:
			wantOnly(t, err, ErrNoMatchingKey)
		}
	}
}
