package crypto

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/ttpgate/ttpgate/internal/testenv"
)

const chunkSize = 64 << 10 // age's plaintext chunk

// ageTool returns the path of the age CLI, or skips (fails under CI).
func ageTool(t testing.TB, name string) string {
	t.Helper()
	return testenv.Tool(t, name, "apt-get install -y age")
}

func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// newIdentity returns a fresh X25519 identity.
func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// ageKeys is a keyring of age identities only.
func ageKeys(ids ...age.Identity) Keyring { return Keyring{Age: ids} }

// encrypt encrypts plaintext to r with the library, armoured or not.
func encrypt(t testing.TB, r age.Recipient, plaintext []byte, armored bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var dst io.Writer = &buf
	var a io.WriteCloser
	if armored {
		a = armor.NewWriter(&buf)
		dst = a
	}
	w, err := age.Encrypt(dst, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plaintext); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if a != nil {
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

// readAll reads r to its end or first error and returns what it read.
func readAll(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, r)
	return buf.Bytes(), err
}

// payloadOffset returns where the payload of a binary age file starts: after
// the header's closing "--- MAC" line and the 16-byte nonce.
func payloadOffset(t testing.TB, ct []byte) int {
	t.Helper()
	i := bytes.Index(ct, []byte("\n--- "))
	if i < 0 {
		t.Fatal("no header end in age file")
	}
	j := bytes.IndexByte(ct[i+1:], '\n')
	return i + 1 + j + 1 + 16
}

func TestDecryptRoundTrip(t *testing.T) {
	id := newIdentity(t)
	other := newIdentity(t)
	sizes := []int{0, 1, 100, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 12345}
	for _, size := range sizes {
		plaintext := randomBytes(size, uint64(size))
		for _, armored := range []bool{false, true} {
			ct := encrypt(t, id.Recipient(), plaintext, armored)
			// The matching identity need not be the first.
			r, err := Decrypt(bytes.NewReader(ct), ageKeys(other, id))
			if err != nil {
				t.Fatalf("size %d armored %v: Decrypt: %v", size, armored, err)
			}
			got, err := readAll(r)
			if err != nil {
				t.Fatalf("size %d armored %v: read: %v", size, armored, err)
			}
			if !bytes.Equal(got, plaintext) {
				t.Errorf("size %d armored %v: got %d bytes, not the plaintext", size, armored, len(got))
			}
		}
	}
}

// TestDecryptAgeCLI decrypts what the age command line tool encrypted, as a
// sender does it: `age -r RECIPIENT`, binary and armoured.
func TestDecryptAgeCLI(t *testing.T) {
	agePath := ageTool(t, "age")
	dir := t.TempDir()
	id := newIdentity(t)
	plaintext := append([]byte("bsn;client_id\n111222333;c-1\n"), randomBytes(2*chunkSize+7, 1)...)
	in := filepath.Join(dir, "extract.csv")
	if err := os.WriteFile(in, plaintext, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-r", id.Recipient().String()}, {"-a", "-r", id.Recipient().String()}} {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			ct := run(t, agePath, append(args, in)...)
			if got := DetectFormat(ct); got != FormatAge {
				t.Errorf("DetectFormat = %v, want age", got)
			}
			r, err := Decrypt(bytes.NewReader(ct), ageKeys(id))
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			got, err := readAll(r)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, plaintext) {
				t.Errorf("got %d bytes, not the plaintext", len(got))
			}
		})
	}
}

func TestDecryptWrongRecipient(t *testing.T) {
	id, other := newIdentity(t), newIdentity(t)
	for _, armored := range []bool{false, true} {
		ct := encrypt(t, other.Recipient(), []byte("a;b\n1;2\n"), armored)
		_, err := Decrypt(bytes.NewReader(ct), ageKeys(id))
		if !errors.Is(err, ErrNoMatchingKey) {
			t.Errorf("armored %v: got %v, want ErrNoMatchingKey", armored, err)
		}
		var noMatch *age.NoIdentityMatchError
		if !errors.As(err, &noMatch) {
			t.Errorf("armored %v: got %v, want it to wrap *age.NoIdentityMatchError", armored, err)
		}
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotEncrypted) {
			t.Errorf("armored %v: %v is also another branch", armored, err)
		}
	}
	// A passphrase-encrypted file is for another recipient too.
	sr, err := age.NewScryptRecipient("x")
	if err != nil {
		t.Fatal(err)
	}
	sr.SetWorkFactor(10)
	if _, err := Decrypt(bytes.NewReader(encrypt(t, sr, []byte("x"), false)), ageKeys(id)); !errors.Is(err, ErrNoMatchingKey) {
		t.Errorf("scrypt file: got %v, want ErrNoMatchingKey", err)
	}
}

func TestDecryptNotEncrypted(t *testing.T) {
	id := newIdentity(t)
	csv, err := os.ReadFile("testdata/plain.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"plain csv", csv, ErrNotEncrypted},
		{"empty", nil, ErrNotEncrypted},
		{"one byte", []byte("a"), ErrNotEncrypted},
		{"age intro cut", []byte("age-encryption.org/v1"), ErrNotEncrypted},
		{"gpg symmetric, no OpenPGP key configured", mustRead(t, "testdata/sample.gpg"), ErrUnsupportedFormat},
		{"gpg armoured, no OpenPGP key configured", mustRead(t, "testdata/sample.gpg.asc"), ErrUnsupportedFormat},
		{"gpg signed only", mustRead(t, "testdata/signed-only.gpg"), ErrNotEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decrypt(bytes.NewReader(tt.input), ageKeys(id))
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if r != nil {
				t.Errorf("got a reader with error %v", err)
			}
			if bytes.Contains([]byte(err.Error()), []byte("111222333")) {
				t.Errorf("error %q repeats the input", err)
			}
		})
	}
}

func TestDecryptNoIdentities(t *testing.T) {
	ct := encrypt(t, newIdentity(t).Recipient(), []byte("x"), false)
	if _, err := Decrypt(bytes.NewReader(ct), Keyring{}); err == nil {
		t.Fatal("Decrypt without identities succeeded")
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecryptCorrupt damages files in the ways a transfer or an attacker
// does. Damage in the header is found by Decrypt; damage in the payload only
// by Read, after the intact chunks before it were returned: that prefix is
// genuine plaintext but not the whole file, which is why Decrypt's doc
// calls it provisional. (A damaged recipient stanza is not here: age cannot
// tell it from a stanza for another key, so it gives ErrNoMatchingKey.)
func TestDecryptCorrupt(t *testing.T) {
	id := newIdentity(t)
	plaintext := randomBytes(3*chunkSize+5000, 7) // three full chunks and a short last one
	ct := encrypt(t, id.Recipient(), plaintext, false)
	payload := payloadOffset(t, ct)
	encChunk := chunkSize + 16 // plus the Poly1305 tag
	if want := payload + 3*encChunk + 5000 + 16; len(ct) != want {
		t.Fatalf("age file is %d bytes, want %d: layout assumption broken", len(ct), want)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return c
	}
	armored := encrypt(t, id.Recipient(), plaintext, true)

	tests := []struct {
		name       string
		input      []byte
		inDecrypt  bool // the header is damaged: Decrypt fails
		goodPrefix int  // plaintext bytes Read returns before the error
	}{
		{"truncated by 1 byte", ct[:len(ct)-1], false, 3 * chunkSize},
		{"truncated by 100 bytes", ct[:len(ct)-100], false, 3 * chunkSize},
		{"cut after the first chunk", ct[:payload+encChunk], false, chunkSize},
		{"cut after the third chunk", ct[:payload+3*encChunk], false, 3 * chunkSize},
		{"cut after the nonce", ct[:payload], false, 0},
		{"cut in the nonce", ct[:payload-1], true, 0},
		{"cut in the header", ct[:40], true, 0},
		{"header only, intro line", ct[:len(ageIntro)], true, 0},
		{"byte flipped in the first chunk", flip(payload + 10), false, 0},
		{"byte flipped in the second chunk", flip(payload + encChunk + 10), false, chunkSize},
		{"byte flipped in a tag", flip(payload + 2*encChunk - 1), false, chunkSize},
		{"byte flipped in the last chunk", flip(len(ct) - 20), false, 3 * chunkSize},
		{"byte flipped in the nonce", flip(payload - 3), false, 0},
		{"byte flipped in the header MAC", flip(payload - 16 - 5), true, 0},
		{"trailing garbage", append(bytes.Clone(ct), "x"...), false, 3 * chunkSize},
		{"armoured, truncated", armored[:len(armored)-100], false, -1},
		{"armoured, bad base64", bytes.Replace(armored, []byte("\n"), []byte("\n*"), 3), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decrypt(bytes.NewReader(tt.input), ageKeys(id))
			if tt.inDecrypt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decrypt: got %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			got, err := readAll(r)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read %d bytes, then %v; want ErrCorrupt", len(got), err)
			}
			if errors.Is(err, ErrNotEncrypted) || errors.Is(err, ErrNoMatchingKey) {
				t.Errorf("%v is also another branch", err)
			}
			if tt.goodPrefix >= 0 && len(got) != tt.goodPrefix {
				t.Errorf("read %d bytes before the error, want %d", len(got), tt.goodPrefix)
			}
			if !bytes.Equal(got, plaintext[:len(got)]) {
				t.Errorf("the %d bytes read before the error are not a prefix of the plaintext", len(got))
			}
			// The error is sticky.
			if n, err2 := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err2, ErrCorrupt) {
				t.Errorf("Read after the error = %d, %v; want 0, ErrCorrupt", n, err2)
			}
		})
	}
}

// An I/O error from the source is not a corrupt file: the caller may retry.
func TestDecryptSourceError(t *testing.T) {
	id := newIdentity(t)
	ct := encrypt(t, id.Recipient(), randomBytes(2*chunkSize, 3), false)
	boom := errors.New("store unavailable")
	failAfter := func(n int) io.Reader {
		return io.MultiReader(bytes.NewReader(ct[:n]), iotest.ErrReader(boom))
	}
	for _, n := range []int{0, 10, 100, payloadOffset(t, ct) + 1000} {
		r, err := Decrypt(failAfter(n), ageKeys(id))
		if err == nil {
			_, err = readAll(r)
		}
		if !errors.Is(err, boom) {
			t.Errorf("failing after %d bytes: got %v, want the source's error", n, err)
		}
		for _, e := range []error{ErrCorrupt, ErrNotEncrypted, ErrNoMatchingKey} {
			if errors.Is(err, e) {
				t.Errorf("failing after %d bytes: %v wraps %v", n, err, e)
			}
		}
	}
}

// Decrypt reads only what it needs and works with a reader that returns
// one byte at a time.
func TestDecryptOneByteReader(t *testing.T) {
	id := newIdentity(t)
	plaintext := randomBytes(chunkSize+1, 4)
	for _, armored := range []bool{false, true} {
		ct := encrypt(t, id.Recipient(), plaintext, armored)
		r, err := Decrypt(iotest.OneByteReader(bytes.NewReader(ct)), ageKeys(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := iotest.TestReader(r, plaintext); err != nil {
			t.Errorf("armored %v: %v", armored, err)
		}
	}
}

// BenchmarkDecrypt decrypts a 64 MiB file from memory, to compare with
// `age -d -i KEY FILE >/dev/null` on the same file.
func BenchmarkDecrypt(b *testing.B) {
	const size = 64 << 20
	id := newIdentity(b)
	ct := encrypt(b, id.Recipient(), randomBytes(size, 5), false)
	if dir := os.Getenv("TTPGATE_BENCH_DIR"); dir != "" {
		// Leave the file and key for a comparison with the age CLI.
		os.WriteFile(filepath.Join(dir, "bench.age"), ct, 0o600)
		os.WriteFile(filepath.Join(dir, "bench.agekey"), []byte(id.String()+"\n"), 0o600)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Decrypt(bytes.NewReader(ct), ageKeys(id))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != size {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}
