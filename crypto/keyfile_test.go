package crypto

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"filippo.io/age"
)

// writeFile writes data to name in dir with exactly mode perm.
func writeFile(t testing.TB, dir, name string, perm os.FileMode, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return path
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	secret := []byte("AGE-SECRET-KEY-1SECRETSECRET\n")
	t.Run("modes", func(t *testing.T) {
		for _, perm := range []os.FileMode{0o600, 0o400, 0o700} {
			path := writeFile(t, dir, "ok", perm, secret)
			got, err := ReadKeyFile(path)
			if err != nil {
				t.Errorf("mode %04o: %v", perm, err)
			} else if !bytes.Equal(got, secret) {
				t.Errorf("mode %04o: got %q", perm, got)
			}
			os.Remove(path)
		}
		for _, perm := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o610, 0o601, 0o602, 0o620, 0o777} {
			path := writeFile(t, dir, "loose", perm, secret)
			_, err := ReadKeyFile(path)
			if err == nil {
				t.Errorf("mode %04o: ReadKeyFile succeeded", perm)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, "UNPROTECTED") || !strings.Contains(msg, "0"+octal(perm)) {
				t.Errorf("mode %04o: error %q does not name the path and the mode", perm, msg)
			}
			if strings.Contains(msg, "SECRET") {
				t.Errorf("mode %04o: error %q contains the key", perm, msg)
			}
			os.Remove(path)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := ReadKeyFile(filepath.Join(dir, "nope"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadKeyFile(sub); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("got %v, want a not-a-regular-file error", err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skip("no FIFOs here:", err)
		}
		// Must not block opening the FIFO.
		if _, err := ReadKeyFile(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("got %v, want a not-a-regular-file error", err)
		}
	})
	t.Run("device", func(t *testing.T) {
		if _, err := ReadKeyFile("/dev/zero"); err == nil {
			t.Error("ReadKeyFile(/dev/zero) succeeded")
		}
	})
	t.Run("symlink", func(t *testing.T) {
		target := writeFile(t, dir, "target", 0o600, secret)
		link := filepath.Join(dir, "link")
		if err := os.Symlink(target, link); err != nil {
			t.Skip(err)
		}
		if got, err := ReadKeyFile(link); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("through a symbolic link: got %q, %v", got, err)
		}
	})
	t.Run("size", func(t *testing.T) {
		path := writeFile(t, dir, "max", 0o600, bytes.Repeat([]byte("#"), MaxKeyFileSize))
		if _, err := ReadKeyFile(path); err != nil {
			t.Errorf("%d bytes: %v", MaxKeyFileSize, err)
		}
		path = writeFile(t, dir, "big", 0o600, bytes.Repeat([]byte("#"), MaxKeyFileSize+1))
		if _, err := ReadKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%d bytes: got %v, want an error naming the file", MaxKeyFileSize+1, err)
		}
	})
}

func octal(perm os.FileMode) string {
	const digits = "01234567"
	p := perm.Perm()
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestLoadAgeIdentities(t *testing.T) {
	dir := t.TempDir()
	id1, id2, id3 := newIdentity(t), newIdentity(t), newIdentity(t)
	file1 := writeFile(t, dir, "one.agekey", 0o600, []byte(
		"# created: 2026-01-01T00:00:00Z\n# public key: "+id1.Recipient().String()+"\n"+id1.String()+"\n\n"+
			"# an older key, for files still on the way\n"+id2.String()+"\r\n"))
	file2 := writeFile(t, dir, "two.agekey", 0o400, []byte(id3.String())) // no final line end

	ids, err := LoadAgeIdentities(file1, file2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 {
		t.Fatalf("got %d identities, want 3", len(ids))
	}
	for i, want := range []*age.X25519Identity{id1, id2, id3} {
		if got, ok := ids[i].(*age.X25519Identity); !ok || got.String() != want.String() {
			t.Errorf("identity %d is not the one in the file", i)
		}
	}
	// Each one decrypts.
	for i, id := range []*age.X25519Identity{id1, id2, id3} {
		ct := encrypt(t, id.Recipient(), []byte("x"), false)
		if _, err := Decrypt(bytes.NewReader(ct), Keyring{Age: ids}); err != nil {
			t.Errorf("file for identity %d: %v", i, err)
		}
	}
}

func TestLoadAgeIdentitiesErrors(t *testing.T) {
	dir := t.TempDir()
	id := newIdentity(t)
	key := id.String()
	// A damaged key: one character changed, so the checksum fails.
	damaged := key[:30] + string(key[30]^('q'^'p')) + key[31:]
	if damaged[30] == key[30] {
		t.Fatal("test did not damage the key")
	}
	tests := []struct {
		name string
		perm os.FileMode
		data string
		want string // in the error
	}{
		{"group readable", 0o640, key + "\n", "UNPROTECTED"},
		{"other readable", 0o604, key + "\n", "UNPROTECTED"},
		{"empty", 0o600, "", "no age identity"},
		{"comments only", 0o600, "# public key: age1xyz\n\n", "no age identity"},
		{"damaged key", 0o600, "# comment\n" + damaged + "\n", "line 2"},
		{"recipient instead of identity", 0o600, id.Recipient().String() + "\n", "line 1"},
		{"ssh key", 0o600, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", "line 1"},
		{"indented key", 0o600, "  " + key + "\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "-"), tt.perm, []byte(tt.data))
			_, err := LoadAgeIdentities(path)
			if err == nil {
				t.Fatal("LoadAgeIdentities succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file and %q", msg, tt.want)
			}
			// Not the key, nor any run of it.
			secretPart := strings.TrimPrefix(key, "AGE-SECRET-KEY-1")
			for i := 0; i+8 <= len(secretPart); i++ {
				if strings.Contains(strings.ToUpper(msg), secretPart[i:i+8]) {
					t.Fatalf("error %q contains key material", msg)
				}
			}
		})
	}
	if _, err := LoadAgeIdentities(); err == nil {
		t.Error("LoadAgeIdentities() without files succeeded")
	}
}
