package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Errors Decrypt and the Read method of the reader it returns give for the
// branches a caller takes: each is a reason to reject a delivery. Test for
// them with errors.Is; the wrapped detail is for operators' logs and never
// contains key material or plaintext. Some errors wrap two of them: the
// finer one (ErrPassphraseOnly, ErrNoIntegrityProtection) tells why the
// coarser one (ErrNoMatchingKey, ErrUnsupportedFormat) applies.
var (
	// ErrNotEncrypted: the input does not start like an age file nor like
	// an encrypted OpenPGP message, so it is not encrypted at all, or
	// empty; or it is an OpenPGP message that is only signed, compressed
	// or stored (readable by anyone).
	ErrNotEncrypted = errors.New("not an encrypted file")
	// ErrUnsupportedFormat: an encrypted file that this processor does
	// not decrypt: its format has no key in the keyring (an OpenPGP
	// message when no OpenPGP key is configured), it uses an algorithm
	// that is not implemented, or (wrapping ErrNoIntegrityProtection) it
	// lacks integrity protection.
	ErrUnsupportedFormat = errors.New("unsupported encryption format")
	// ErrNoIntegrityProtection: an OpenPGP message whose data is in a
	// Symmetrically Encrypted Data packet (tag 9), which has no
	// modification detection code: anyone can change its plaintext
	// undetected, so it is refused before any of it is decrypted. Comes
	// wrapped together with ErrUnsupportedFormat.
	ErrNoIntegrityProtection = errors.New("encrypted without integrity protection (no MDC)")
	// ErrNoMatchingKey: a well-formed header, but no key in the keyring
	// opens it: the sender encrypted to someone else's key. For age the
	// age error (an *age.NoIdentityMatchError) is wrapped too; a damaged
	// age recipient stanza gives this error as well, as age cannot tell
	// it from a stanza for another key. An OpenPGP message with a session
	// key for one of our keys that does not decrypt is ErrCorrupt instead.
	ErrNoMatchingKey = errors.New("encrypted for another recipient")
	// ErrPassphraseOnly: an OpenPGP message encrypted with a passphrase
	// only (`gpg --symmetric`: SKESK packets and no PKESK), so not to any
	// key. Comes wrapped together with ErrNoMatchingKey.
	ErrPassphraseOnly = errors.New("encrypted with a passphrase only, not to a public key")
	// ErrCorrupt: a file that is damaged or tampered with: for age a
	// header that starts well but does not parse, a header MAC that does
	// not match, a payload chunk that fails authentication, or a file that
	// ends early; for OpenPGP broken packets or armour, a session key for
	// our key that does not decrypt, a failed integrity check (MDC or
	// AEAD tag), a message cut short, or data after the end of the
	// message.
	ErrCorrupt = errors.New("corrupt encrypted file")
	// ErrDecompressionLimit: a compressed OpenPGP message that
	// decompresses to more than MaxExpansion times the bytes read, plus
	// ExpansionAllowance: refused as a possible decompression bomb.
	ErrDecompressionLimit = errors.New("decompresses to more than the allowed size")
)

// Keyring holds the private keys Decrypt tries: age identities for age
// files and OpenPGP keys for OpenPGP messages. Either may be empty; a file
// in a format without keys is refused with ErrUnsupportedFormat.
type Keyring struct {
	Age     []age.Identity
	OpenPGP []*OpenPGPKey
}

// Decrypt returns a reader of the plaintext of the file read from src: an
// age file, binary or ASCII-armoured, decrypted with the first of
// keys.Age that matches, or an OpenPGP message, binary or ASCII-armoured,
// decrypted with keys.OpenPGP (see decryptOpenPGP for what is accepted).
// It reads only the header before returning, then streams: memory use does
// not depend on the size of the file.
//
// Errors from Decrypt wrap ErrNotEncrypted, ErrUnsupportedFormat,
// ErrNoMatchingKey or ErrCorrupt (and sometimes a finer error with them).
// Errors from Read wrap ErrCorrupt or ErrDecompressionLimit. When src
// itself fails (an I/O error, anything but io.EOF), that error is
// returned, wrapped, and none of these: a store that fails is not a
// damaged file, and the caller may retry.
//
// The plaintext is provisional until Read returns io.EOF. age authenticates
// the payload in 64 KiB chunks, so every byte Read returns is authentic, but
// a file cut short (even at a chunk boundary) or damaged further on is only
// detected when Read reaches that point: the data read before an ErrCorrupt
// is a genuine prefix of the sender's plaintext, not the whole of it. An
// OpenPGP message (SEIPD v1, which GnuPG 2.2 writes) is checked only at its
// end: before io.EOF the plaintext may be anything, including garbage from
// a flipped bit. Callers must not act on the plaintext (publish, commit,
// count, report on it) before io.EOF, and must discard it on an error.
func Decrypt(src io.Reader, keys Keyring) (io.Reader, error) {
	if len(keys.Age) == 0 && len(keys.OpenPGP) == 0 {
		return nil, errors.New("decrypt: no keys")
	}
	in := &sourceReader{r: src}
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(in, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("decrypt: read input: %w", err)
	}
	head = head[:n]
	ciphertext := io.MultiReader(bytes.NewReader(head), in)
	switch DetectFormat(head) {
	case FormatAge:
		if len(keys.Age) == 0 {
			return nil, fmt.Errorf("decrypt: %w: age, and no age identity is configured", ErrUnsupportedFormat)
		}
		return decryptAge(ciphertext, isAgeArmored(head), in, keys.Age)
	case FormatOpenPGP:
		if len(keys.OpenPGP) == 0 {
			return nil, fmt.Errorf("decrypt: %w: OpenPGP, and no OpenPGP key is configured", ErrUnsupportedFormat)
		}
		return decryptOpenPGP(ciphertext, isPGPArmored(head), in, keys.OpenPGP)
	default:
		return nil, fmt.Errorf("decrypt: %w", ErrNotEncrypted)
	}
}

// decryptAge decrypts an age file; in is the source under ciphertext.
func decryptAge(ciphertext io.Reader, armored bool, in *sourceReader, ids []age.Identity) (io.Reader, error) {
	if armored {
		ciphertext = armor.NewReader(ciphertext)
	}
	r, err := age.Decrypt(ciphertext, ids...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		switch {
		case in.err != nil:
			return nil, fmt.Errorf("decrypt: read input: %w", in.err)
		case errors.As(err, &noMatch), errors.Is(err, age.ErrIncorrectIdentity):
			return nil, fmt.Errorf("decrypt: %w: %w", ErrNoMatchingKey, err)
		default:
			// The input started with the age intro or armour line, so
			// whatever else went wrong in the header is damage.
			return nil, fmt.Errorf("decrypt: %w: %w", ErrCorrupt, err)
		}
	}
	return &plaintextReader{r: r, src: in}, nil
}

// sourceReader remembers the first error, other than io.EOF, that the
// underlying reader returned, so that an I/O failure is not reported as a
// corrupt file, and counts the bytes read (for the decompression limit).
type sourceReader struct {
	r   io.Reader
	n   int64
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// plaintextReader classifies the errors of age's payload reader. Its errors
// are sticky, as age's are.
type plaintextReader struct {
	r   io.Reader
	src *sourceReader
	err error
}

func (p *plaintextReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.r.Read(b)
	switch {
	case err == nil, err == io.EOF:
		p.err = err
	case p.src.err != nil:
		p.err = fmt.Errorf("decrypt: read input: %w", p.src.err)
	default:
		p.err = fmt.Errorf("decrypt: %w: %w", ErrCorrupt, err)
	}
	return n, p.err
}
