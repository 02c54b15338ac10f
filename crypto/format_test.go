package crypto

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The files in testdata were made by the real age and gpg tools with
// testdata/generate.sh.
func TestDetectFormatFiles(t *testing.T) {
	tests := []struct {
		file string
		want Format
	}{
		{"sample.age", FormatAge},              // age -r
		{"sample.age.asc", FormatAge},          // age -a -r
		{"sample.gpg", FormatOpenPGP},          // gpg -c: SKESK (old format, tag 3)
		{"sample.gpg.asc", FormatOpenPGP},      // gpg -c -a
		{"sample-pubkey.gpg", FormatOpenPGP},   // gpg -e -r: PKESK (old format, tag 1)
		{"signed-only.gpg", FormatUnknown},     // gpg -s: compressed data (tag 8), readable by anyone
		{"stored-only.gpg", FormatUnknown},     // gpg --store: literal data (tag 11)
		{"signed-only.gpg.asc", FormatUnknown}, // gpg -s -a: "BEGIN PGP MESSAGE" around compressed data
		{"stored-only.gpg.asc", FormatUnknown}, // gpg --store -a: around literal data
		{"pubkey.asc", FormatUnknown},          // gpg --export -a: a public key block
		{"openpgp/plain.asc", FormatOpenPGP},   // gpg -e -a: PKESK (tag 1)
		{"openpgp/signed-only.asc", FormatUnknown},
		{"openpgp/test-only-key.asc", FormatUnknown}, // a private key block
		{"plain.csv", FormatUnknown},                 // what must never be stored
		{"image.png", FormatUnknown},                 // 0x89: bit 7 set, but old-format tag 2 (signature)
		{"generate.sh", FormatUnknown},               // a text file
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			head := data[:min(len(data), SniffLen)]
			if got := DetectFormat(head); got != tt.want {
				t.Errorf("DetectFormat(first %d bytes) = %v, want %v", len(head), got, tt.want)
			}
			// More than SniffLen bytes must not change the answer.
			if got := DetectFormat(data); got != tt.want {
				t.Errorf("DetectFormat(whole file) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDetectFormatBytes(t *testing.T) {
	tests := []struct {
		name string
		head string
		want Format
	}{
		{"empty", "", FormatUnknown},
		{"one byte", "a", FormatUnknown},
		{"one high byte", "\x84", FormatUnknown},
		{"NUL bytes", "\x00\x00\x00\x00", FormatUnknown},
		{"csv", "bsn;client_id\n111222333;1\n", FormatUnknown},
		{"csv with BOM", "\xef\xbb\xbfbsn;client_id\n", FormatUnknown},
		{"png", "\x89PNG\r\n\x1a\n", FormatUnknown},
		{"zip (xlsx)", "PK\x03\x04\x14\x00\x06\x00", FormatUnknown},
		{"gzip", "\x1f\x8b\x08\x00", FormatUnknown},

		{"age intro", "age-encryption.org/v1\n-> X25519 abc\n", FormatAge},
		{"age intro only", "age-encryption.org/v1\n", FormatAge},
		{"age intro cut", "age-encryption.org/v1", FormatUnknown},
		{"age other version", "age-encryption.org/v2\n", FormatUnknown},
		{"age intro not first", " age-encryption.org/v1\n", FormatUnknown},
		{"age armour", "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", FormatAge},
		{"age armour CRLF", "-----BEGIN AGE ENCRYPTED FILE-----\r\nYWdl\r\n", FormatAge},
		{"age armour after blank lines", "\n\r\n-----BEGIN AGE ENCRYPTED FILE-----\n", FormatAge},
		{"age armour at end of head", "-----BEGIN AGE ENCRYPTED FILE-----", FormatAge},
		{"age armour cut", "-----BEGIN AGE ENCRYPTED", FormatUnknown},
		{"age armour longer", "-----BEGIN AGE ENCRYPTED FILE-----X\n", FormatUnknown},
		{"pgp armour", "-----BEGIN PGP MESSAGE-----\n\njA0E\n", FormatOpenPGP},
		{"pgp armour PKESK", "-----BEGIN PGP MESSAGE-----\n\nhQIMA", FormatOpenPGP},
		{"pgp armour CRLF", "-----BEGIN PGP MESSAGE-----\r\n\r\nhQIMA", FormatOpenPGP},
		{"pgp armour SEIPD first", "-----BEGIN PGP MESSAGE-----\n\n0sB", FormatOpenPGP},
		{"pgp armour two characters", "-----BEGIN PGP MESSAGE-----\n\nhQ", FormatOpenPGP},
		{"pgp armour one character", "-----BEGIN PGP MESSAGE-----\n\nh", FormatUnknown}, // no packet: fail closed
		{"pgp armour with header", "-----BEGIN PGP MESSAGE-----\nVersion: GnuPG v2\n\nhQIMA", FormatOpenPGP},
		{"pgp armour long header, signed only", "-----BEGIN PGP MESSAGE-----\nComment: GPGTools - https://gpgtools.org\n\nowGb", FormatUnknown},
		{"pgp armour long headers, encrypted", "-----BEGIN PGP MESSAGE-----\nVersion: Mailvelope v5.1.1\nComment: https://mailvelope.com\nComment: GPGTools - https://gpgtools.org\n\nhQIMA", FormatOpenPGP},
		{"pgp armour headers fill the head", "-----BEGIN PGP MESSAGE-----\n" + strings.Repeat("Comment: "+strings.Repeat("x", 60)+"\n", 20) + "\nhQIMA", FormatUnknown},
		{"pgp armour header cut before its colon", "-----BEGIN PGP MESSAGE-----\nVersion: x\nComm", FormatUnknown},
		{"pgp armour without blank line", "-----BEGIN PGP MESSAGE-----\nhQIMA\n", FormatOpenPGP},
		{"pgp armour signed only", "-----BEGIN PGP MESSAGE-----\n\nowGbwMvMwCHm", FormatUnknown},
		{"pgp armour signed only, header", "-----BEGIN PGP MESSAGE-----\nVersion: GnuPG v2\n\nowGb", FormatUnknown},
		{"pgp armour one-pass signature", "-----BEGIN PGP MESSAGE-----\n\nkA0D", FormatUnknown},
		{"pgp armour literal", "-----BEGIN PGP MESSAGE-----\n\nrERi", FormatUnknown},
		{"pgp armour new-format literal", "-----BEGIN PGP MESSAGE-----\n\nyxRi", FormatUnknown},
		{"pgp armour without blank line, signed", "-----BEGIN PGP MESSAGE-----\nowGb\n", FormatUnknown},
		{"pgp armour bad base64", "-----BEGIN PGP MESSAGE-----\n\n*QIM", FormatUnknown},
		{"pgp armour plaintext", "-----BEGIN PGP MESSAGE-----\n\nbsn;client_id\n", FormatUnknown},
		{"pgp armour no line end", "-----BEGIN PGP MESSAGE-----", FormatUnknown},
		{"pgp signature", "-----BEGIN PGP SIGNATURE-----\n\niHUEARYIAB0W", FormatUnknown},
		{"pgp private key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlFgE", FormatUnknown},
		{"pgp cleartext signed", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n", FormatUnknown},
		{"pgp public key", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n", FormatUnknown},

		// Binary OpenPGP, old format: 10tttt ll.
		{"old PKESK v3", "\x84\x5e\x03", FormatOpenPGP},
		{"old PKESK 2-octet length", "\x85\x01\x0c\x03", FormatOpenPGP},
		{"old PKESK v4 (no such)", "\x84\x5e\x04", FormatUnknown},
		{"old PKESK indeterminate", "\x87\x03", FormatUnknown},
		{"old SKESK v4", "\x8c\x0d\x04", FormatOpenPGP},
		{"old SKESK v3 (no such)", "\x8c\x0d\x03", FormatUnknown},
		{"old SED", "\xa4\x20\xaa", FormatOpenPGP},
		{"old SED indeterminate", "\xa7\xaa", FormatOpenPGP},
		{"old compressed", "\xa3\x01\x9b", FormatUnknown},
		{"old literal", "\xac\x44\x62", FormatUnknown},
		{"old signature", "\x89\x01\x33\x04", FormatUnknown},
		{"old marker", "\xa8\x03PGP", FormatUnknown},
		{"length but no version", "\x84\x5e", FormatUnknown},

		// Binary OpenPGP, new format: 11tttttt.
		{"new PKESK v3", "\xc1\x5e\x03", FormatOpenPGP},
		{"new PKESK v6", "\xc1\x5e\x06", FormatOpenPGP},
		{"new PKESK 2-octet length", "\xc1\xc0\x10\x06", FormatOpenPGP},
		{"new PKESK 5-octet length", "\xc1\xff\x00\x00\x01\x00\x03", FormatOpenPGP},
		{"new PKESK partial length", "\xc1\xe1\x03", FormatUnknown},
		{"new SKESK v4", "\xc3\x0d\x04", FormatOpenPGP},
		{"new SKESK v5", "\xc3\x0d\x05", FormatOpenPGP},
		{"new SKESK v6", "\xc3\x0d\x06", FormatOpenPGP},
		{"new SEIPD v1", "\xd2\x40\x01", FormatOpenPGP},
		{"new SEIPD v2 partial", "\xd2\xe5\x02", FormatOpenPGP},
		{"new SEIPD v3 (no such)", "\xd2\x40\x03", FormatUnknown},
		{"new OCB v1", "\xd4\x40\x01", FormatOpenPGP},
		{"new compressed", "\xc8\x40\x01", FormatUnknown},
		{"new literal", "\xcb\x40\x62", FormatUnknown},
		{"new one-pass signature", "\xc4\x0d\x03", FormatUnknown},
		{"new public key", "\xc6\x33\x04", FormatUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectFormat([]byte(tt.head)); got != tt.want {
				t.Errorf("DetectFormat(%q) = %v, want %v", tt.head, got, tt.want)
			}
		})
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[Format]string{FormatUnknown: "unknown", FormatAge: "age", FormatOpenPGP: "openpgp", 42: "unknown"} {
		if got := f.String(); got != want {
			t.Errorf("Format(%d).String() = %q, want %q", int(f), got, want)
		}
	}
}

func FuzzDetectFormat(f *testing.F) {
	f.Add([]byte("age-encryption.org/v1\n"))
	f.Add([]byte("\x8c\x0d\x04"))
	f.Add([]byte("\xc1\xff\x00\x00\x01\x00\x03"))
	f.Fuzz(func(t *testing.T, head []byte) {
		got := DetectFormat(head)
		if len(head) > SniffLen && DetectFormat(head[:SniffLen]) != got {
			t.Errorf("answer depends on bytes after SniffLen")
		}
		if len(head) > 0 && head[0] < 0x80 && head[0] != 'a' && head[0] != '-' && head[0] > ' ' && got != FormatUnknown {
			t.Errorf("DetectFormat(%q) = %v for a file starting with %q", head, got, head[0])
		}
	})
}
