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
// contains key material or plaintext.
var (
	// ErrNotEncrypted: the input does not start like an age file (nor like
	// an OpenPGP message), so it is not encrypted at all, or empty.
	ErrNotEncrypted = errors.New("not an encrypted file")
	// ErrUnsupportedFormat: the input is an encrypted OpenPGP message,
	// which this version does not decrypt.
	ErrUnsupportedFormat = errors.New("unsupported encryption format")
	// ErrNoMatchingKey: a well-formed age header, but none of the
	// identities unwraps its file key: the sender encrypted to someone
	// else's recipient. The age error (an *age.NoIdentityMatchError) is
	// wrapped too. A damaged recipient stanza gives this error as well:
	// age cannot tell it from a stanza for another key.
	ErrNoMatchingKey = errors.New("encrypted for another recipient")
	// ErrCorrupt: an age file that is damaged or tampered with: a header
	// that starts well but does not parse, a header MAC that does not
	// match, a payload chunk that fails authentication, or a file that
	// ends early.
	ErrCorrupt = errors.New("corrupt encrypted file")
)

// Decrypt returns a reader of the plaintext of the age file read from src,
// binary or ASCII-armoured, decrypted with the first of ids that matches.
// It reads only the header before returning, then streams: memory use does
// not depend on the size of the file.
//
// Errors from Decrypt wrap ErrNotEncrypted, ErrUnsupportedFormat (OpenPGP),
// ErrNoMatchingKey or ErrCorrupt. Errors from Read wrap ErrCorrupt. When src
// itself fails (an I/O error, anything but io.EOF), that error is returned,
// wrapped, and none of the four: a store that fails is not a damaged file,
// and the caller may retry.
//
// The plaintext is provisional until Read returns io.EOF. age authenticates
// the payload in 64 KiB chunks, so every byte Read returns is authentic, but
// a file cut short (even at a chunk boundary) or damaged further on is only
// detected when Read reaches that point: the data read before an ErrCorrupt
// is a genuine prefix of the sender's plaintext, not the whole of it.
// Callers must not act on it (publish, commit, count) before io.EOF, and
// must discard it on an error.
func Decrypt(src io.Reader, ids ...age.Identity) (io.Reader, error) {
	if len(ids) == 0 {
		return nil, errors.New("decrypt: no identities")
	}
	in := &sourceReader{r: src}
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(in, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("decrypt: read input: %w", err)
	}
	head = head[:n]
	switch DetectFormat(head) {
	case FormatAge:
	case FormatOpenPGP:
		return nil, fmt.Errorf("decrypt: %w: OpenPGP", ErrUnsupportedFormat)
	default:
		return nil, fmt.Errorf("decrypt: %w", ErrNotEncrypted)
	}
	var ciphertext io.Reader = io.MultiReader(bytes.NewReader(head), in)
	if isAgeArmored(head) {
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
// corrupt file.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
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
