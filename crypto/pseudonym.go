package crypto

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// MinPseudonymKeySize is the shortest master key NewPseudonymizer accepts:
// 256 bits, the security HMAC-SHA256 gives.
const MinPseudonymKeySize = 32

// PseudonymVersion labels every pseudonym ("v1-…") and is part of the key
// derivation. A new scheme gets a new label, so pseudonyms of different
// schemes can never be mistaken for one another and can coexist in staged
// data during a migration.
const PseudonymVersion = "v1"

// Pseudonymizer turns normalised identifiers into pseudonyms: keyed hashes
// that are stable (the same input always gives the same pseudonym, so
// records of one person link up across deliveries) and that nobody without
// the key can compute or reverse, not even by trying every BSN.
//
// Pseudonym(domain, kind, parts...) is
//
//	"v1-" + base32(HMAC-SHA256(domainKey, kind || 0x00 || part1 || 0x00 || part2 …)[:16])
//
// in lower case without padding (26 characters), where
//
//	domainKey = HKDF-SHA256(masterKey, salt: none, info: "ttpgate pseudonym v1 " + domain, 32 bytes)
//
// Why this shape:
//   - Domain separation: each domain ("rom", "lvr1") has its own derived
//     key, so the pseudonym of one BSN in ROM data and in birth-care data
//     differ and the two cannot be linked, even by someone who holds both
//     outputs. One master key is kept; domain keys need no storage.
//   - Kind separation: the kind ("bsn", "client", "traject", …) is hashed
//     first, so a client number that happens to equal a BSN does not get
//     the BSN's pseudonym.
//   - Scope: an identifier that is only unique per care provider (a
//     vendor-local client or trajectory number) is passed with the
//     provider's AGB code as an earlier part, so equal numbers of two
//     providers do not collide.
//   - Unambiguous input: parts are joined with a NUL byte that no part may
//     contain, so ("ab", "c") and ("a", "bc") differ.
//   - 128 bits of output: collisions are out of reach for any national
//     dataset, and the string stays short in Parquet.
//
// A Pseudonymizer is safe for concurrent use. It never prints its key:
// String, Format and LogValue give "REDACTED", for a Pseudonymizer and for
// a pointer to one, and the keys sit behind a pointer, so that even
// printing the struct's fields by reflection shows no key byte.
type Pseudonymizer struct {
	keys *pseudonymKeys
}

type pseudonymKeys struct {
	master []byte

	mu      sync.RWMutex
	domains map[string][]byte // domain → derived key
}

// NewPseudonymizer returns a Pseudonymizer with the master key key (at least
// MinPseudonymKeySize bytes), of which it keeps a copy.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinPseudonymKeySize {
		return nil, fmt.Errorf("pseudonym key: %d bytes, need at least %d", len(key), MinPseudonymKeySize)
	}
	return &Pseudonymizer{keys: &pseudonymKeys{
		master:  append([]byte(nil), key...),
		domains: make(map[string][]byte),
	}}, nil
}

// LoadPseudonymKey reads a pseudonym master key file (checked by
// ReadKeyFile): 64 hexadecimal characters, the 32 bytes of the key,
// optionally followed by a line end. Errors never include the contents.
func LoadPseudonymKey(path string) ([]byte, error) {
	data, err := ReadKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("load pseudonym key: %w", err)
	}
	text := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if len(text) != 2*MinPseudonymKeySize {
		return nil, fmt.Errorf("load pseudonym key: %s: want %d hexadecimal characters and a line end, found %d bytes", path, 2*MinPseudonymKeySize, len(data))
	}
	key, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("load pseudonym key: %s: not hexadecimal", path)
	}
	return key, nil
}

var pseudonymEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Pseudonym returns the pseudonym of the identifier given by parts, of the
// given kind, in domain. The caller normalises the parts first (a BSN as
// nine digits, codes trimmed and in one case): the pseudonym is of the
// exact bytes.
//
// Pseudonym panics if kind or a part contains a NUL byte: that would make
// the input ambiguous, and validation must have refused such a value
// before it gets here.
func (p *Pseudonymizer) Pseudonym(domain, kind string, parts ...string) string {
	if strings.IndexByte(kind, 0) >= 0 {
		panic("crypto: pseudonym kind contains a NUL byte")
	}
	mac := hmac.New(sha256.New, p.keys.domainKey(domain))
	io.WriteString(mac, kind)
	for _, part := range parts {
		if strings.IndexByte(part, 0) >= 0 {
			panic("crypto: pseudonym part contains a NUL byte")
		}
		mac.Write([]byte{0})
		io.WriteString(mac, part)
	}
	return PseudonymVersion + "-" + pseudonymEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// domainKey returns the key of domain, deriving it on first use.
func (p *pseudonymKeys) domainKey(domain string) []byte {
	p.mu.RLock()
	k, ok := p.domains[domain]
	p.mu.RUnlock()
	if ok {
		return k
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.domains[domain]; ok {
		return k
	}
	k, err := hkdf.Key(sha256.New, p.master, nil, "ttpgate pseudonym "+PseudonymVersion+" "+domain, 32)
	if err != nil {
		// Only for a key length HKDF-SHA256 cannot give; 32 is fine.
		panic("crypto: derive pseudonym domain key: " + err.Error())
	}
	p.domains[domain] = k
	return k
}

const redacted = "REDACTED"

// String returns "REDACTED", so that the key never reaches a log or an
// error message.
func (Pseudonymizer) String() string { return redacted }

// Format prints "REDACTED" for every verb, %#v and %d included, which
// would otherwise print the key bytes.
func (Pseudonymizer) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue returns "REDACTED", so that slog never prints the key.
func (Pseudonymizer) LogValue() slog.Value { return slog.StringValue(redacted) }

var (
	_ fmt.Stringer   = Pseudonymizer{}
	_ fmt.Formatter  = Pseudonymizer{}
	_ slog.LogValuer = Pseudonymizer{}
)
