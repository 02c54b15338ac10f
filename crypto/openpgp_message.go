package crypto

import (
	"bufio"
	"compress/bzip2"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// MaxExpansion and ExpansionAllowance bound what a compressed OpenPGP
// message may decompress to: at any point of the stream, the decompressed
// bytes may be at most MaxExpansion times the ciphertext bytes read so far,
// plus ExpansionAllowance. CSV extracts compress 5 to 8 times with zlib or
// bzip2, so real files stay far below; a decompression bomb (a small
// message that inflates to terabytes, also by nesting compressed packets)
// is stopped with ErrDecompressionLimit after at most that much. go-crypto
// does not bound decompression by default, and the processor does not
// bound the number of rows. age does not compress: its plaintext is never
// larger than the file.
//
// MaxPlaintext bounds the decompressed bytes absolutely: a large file
// within the ratio (20 GiB may decompress to 2 TiB) would otherwise fill
// the processor's disk with sort runs, run after run. A national extract
// is a few GiB.
const (
	MaxExpansion       = 100
	ExpansionAllowance = 1 << 20
	MaxPlaintext       = 64 << 30
)

// maxHiddenRecipients bounds the session-key packets for a hidden recipient
// (gpg --hidden-recipient) that are tried.
const maxHiddenRecipients = 16

// maxCompressionDepth bounds compressed packets within compressed packets
// (GnuPG writes one).
const maxCompressionDepth = 3

// decryptOpenPGP decrypts an OpenPGP message; in is the source under
// ciphertext. go-crypto (github.com/ProtonMail/go-crypto) parses the
// session-key and encrypted-data packets and does the cryptography: the
// session key, the decryption, the MDC and AEAD checks. The packet
// structure around them (RFC 9580 §10.3) is followed here, strictly and in
// memory bounded whatever the input, rather than by go-crypto's
// ReadMessage, which reads some packets (user ids, keys) whole into memory
// wherever they appear and skips what follows a message.
//
// What it accepts:
//
//   - A message of session-key packets then one encrypted data packet,
//     binary or ASCII-armoured ("-----BEGIN PGP MESSAGE-----", headers
//     allowed; the CRC line is ignored, as RFC 9580 says). Nothing but white
//     space may follow the armour's END line, and nothing may follow the
//     encrypted data packet: two messages concatenated are refused
//     (ErrCorrupt), not half read.
//   - The session key encrypted to one of keys (PKESK, also with the key id
//     hidden: gpg --hidden-recipient), by a (sub)key flagged for encryption.
//     A message for other keys only is ErrNoMatchingKey; one with only a
//     passphrase (SKESK: gpg --symmetric) is ErrNoMatchingKey and
//     ErrPassphraseOnly. Passphrases are never tried.
//   - Integrity-protected data only: SEIPD v1 (with MDC, what GnuPG 2.2
//     writes) with AES, SEIPD v2 and OCB (AEAD); any other cipher is
//     ErrUnsupportedFormat. A Symmetrically Encrypted Data
//     packet (tag 9, no MDC) is refused before decryption with
//     ErrUnsupportedFormat and ErrNoIntegrityProtection. A failed MDC or
//     AEAD check is ErrCorrupt; for SEIPD v1 it is known only at the end of
//     the message, so the plaintext before io.EOF is unauthenticated.
//   - Inside: one literal data packet, compressed (ZIP, ZLIB, BZip2, nested
//     at most maxCompressionDepth deep; decompression is bounded by
//     MaxExpansion) or not, signed or not. Signature, one-pass signature,
//     marker and padding packets are skipped: signatures are never
//     verified (no sender keys are configured; senders are authenticated
//     by the gateway), so a signed message decrypts as the same message
//     unsigned. Any other packet is ErrCorrupt.
//   - The plaintext is the literal data packet's content as is: its file
//     name and date are ignored, as is text mode.
//
// A structure that breaks these rules inside the encrypted data is told
// apart from damage only after the integrity check: the rest of the data is
// read and checked first, so a damaged message always says "integrity check
// failed" (no oracle on the plaintext's structure).
func decryptOpenPGP(ciphertext io.Reader, armored bool, in *sourceReader, keys []*OpenPGPKey) (io.Reader, error) {
	p := &openpgpPlaintext{src: in}
	var bin *bufio.Reader
	if armored {
		ar, err := newArmorReader(ciphertext)
		if err != nil {
			if in.err != nil {
				return nil, fmt.Errorf("decrypt: read input: %w", in.err)
			}
			return nil, fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, err)
		}
		p.armour = ar
		bin = bufio.NewReader(ar)
	} else {
		bin = bufio.NewReader(ciphertext)
	}
	// The first packet decides whether this is an encrypted message at all:
	// DetectFormat does not see into armour whose headers are long.
	first, err := bin.Peek(1)
	if err != nil {
		return nil, p.outerError(fmt.Errorf("decrypt: %w: OpenPGP: empty message", ErrCorrupt))
	}
	if !startsEncryptedMessage(packetTag(first[0])) {
		return nil, p.outerError(fmt.Errorf("decrypt: %w: an OpenPGP message that is not encrypted (signed, compressed or stored only)", ErrNotEncrypted))
	}
	p.framer = &messageFramer{r: bin}
	dec, err := p.openSession(keys)
	if err != nil {
		return nil, err
	}
	p.dec = dec
	p.levels = []*pgpLevel{{r: bufio.NewReader(dec)}}
	if err := p.nextLiteral(); err != nil {
		return nil, p.innerError(err)
	}
	return p, nil
}

// openpgpPlaintext reads the plaintext of an OpenPGP message: the content of
// its literal data packet. At the end it checks the rest of the message, its
// integrity, and that the input ends there. Its errors are sticky.
type openpgpPlaintext struct {
	src      *sourceReader
	armour   *armorReader
	framer   *messageFramer
	dec      io.ReadCloser // the decrypted data; Close checks its MDC or AEAD tag
	levels   []*pgpLevel   // packet streams: the decrypted data, then decompressed ones
	literal  io.Reader
	inflated int64 // bytes decompressed, at every level
	err      error
}

// pgpLevel is one stream of packets inside the encrypted data.
type pgpLevel struct {
	r *bufio.Reader
	// For what a compressed packet decompresses to: the packet's body,
	// which must end where the compressed data does, and the decompressor.
	body   *bufio.Reader
	closer io.Closer
}

// openSession reads the session-key packets and the header of the
// encrypted data packet, and decrypts the session key with one of keys.
func (p *openpgpPlaintext) openSession(keys []*OpenPGPKey) (io.ReadCloser, error) {
	f := p.framer
	var esks []*packet.EncryptedKey // for one of our keys, or for a hidden one
	hidden := 0
	named := false // a PKESK named one of our keys
	var data packet.EncryptedDataPacket
	for data == nil {
		pkt, err := packet.Read(f)
		switch {
		case err == nil:
		case p.src.err != nil || f.sawSED || f.err != nil && f.err != io.EOF || f.inData:
			return nil, p.sessionError(err)
		case isUnsupported(err) || isUnknownPacket(err):
			// A session-key packet of an algorithm or version go-crypto
			// does not know: for someone else.
			if err := f.skipRest(); err != nil {
				return nil, p.sessionError(err)
			}
			continue
		default:
			return nil, p.sessionError(err)
		}
		if err := f.skipRest(); err != nil {
			return nil, p.sessionError(err)
		}
		switch pkt := pkt.(type) {
		case *packet.EncryptedKey:
			if pkt.KeyId == 0 {
				// Hidden recipients are tried against every key: a
				// few are normal, hundreds are a way to make the
				// processor spend private-key operations.
				if hidden++; hidden <= maxHiddenRecipients {
					esks = append(esks, pkt)
				}
			} else if len(decryptersFor(keys, pkt.KeyId)) > 0 {
				esks, named = append(esks, pkt), true
			}
		case *packet.SymmetricallyEncrypted: // the framer refuses tag 9
			data = pkt
		case *packet.AEADEncrypted:
			data = pkt
		}
	}
	cfg := &packet.Config{}
	for _, ek := range esks {
		for _, d := range decryptersFor(keys, ek.KeyId) {
			e := *ek // Decrypt sets the session key: one try each
			if e.Decrypt(d.PrivateKey, cfg) != nil {
				continue
			}
			if se, ok := data.(*packet.SymmetricallyEncrypted); ok && se.Version == 1 && !acceptedCipher(e.CipherFunc) {
				return nil, p.outerError(fmt.Errorf("decrypt: %w: OpenPGP cipher %d: only AES is accepted", ErrUnsupportedFormat, e.CipherFunc))
			}
			dec, err := data.Decrypt(e.CipherFunc, e.Key)
			if errors.Is(err, pgperrors.ErrKeyIncorrect) {
				continue
			}
			if err != nil {
				return nil, p.sessionError(err)
			}
			return dec, nil
		}
	}
	switch {
	case p.src.err != nil:
		return nil, p.sessionError(nil)
	case named:
		return nil, fmt.Errorf("decrypt: %w: the OpenPGP session key for our key does not decrypt", ErrCorrupt)
	case f.pkesk == 0 && f.skesk > 0:
		return nil, fmt.Errorf("decrypt: %w: %w", ErrNoMatchingKey, ErrPassphraseOnly)
	case f.pkesk == 0:
		return nil, fmt.Errorf("decrypt: %w: OpenPGP encrypted data without a session key packet", ErrCorrupt)
	default:
		return nil, fmt.Errorf("decrypt: %w: OpenPGP: the message is for %d other key(s)", ErrNoMatchingKey, f.pkesk)
	}
}

// acceptedCipher reports whether c is AES. GnuPG uses AES unless told
// otherwise; TripleDES and CAST5 (64-bit blocks) are not accepted, as
// go-crypto does not write them either: a file of gigabytes comes near
// their birthday bound.
func acceptedCipher(c packet.CipherFunction) bool {
	switch c {
	case packet.CipherAES128, packet.CipherAES192, packet.CipherAES256:
		return true
	}
	return false
}

// decryptersFor returns our decryption keys with key id id, or all of
// them for id 0 (a hidden recipient).
func decryptersFor(keys []*OpenPGPKey, id uint64) []openpgp.Key {
	var out []openpgp.Key
	for _, k := range keys {
		for _, d := range k.decrypters {
			if id == 0 || d.PublicKey.KeyId == id {
				out = append(out, d)
			}
		}
	}
	return out
}

func isUnsupported(err error) bool {
	var u pgperrors.UnsupportedError
	return errors.As(err, &u)
}

func isUnknownPacket(err error) bool {
	var u pgperrors.UnknownPacketTypeError
	return errors.As(err, &u)
}

// outerError returns err unless the source or the armour failed, which
// take precedence.
func (p *openpgpPlaintext) outerError(err error) error {
	switch {
	case p.src.err != nil:
		return fmt.Errorf("decrypt: read input: %w", p.src.err)
	case p.armour != nil && p.armour.err != nil:
		return fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, p.armour.err)
	}
	return err
}

// sessionError classifies an error met before the encrypted data.
func (p *openpgpPlaintext) sessionError(err error) error {
	f := p.framer
	var malformed errMalformed
	switch {
	case f.sawSED:
		return p.outerError(fmt.Errorf("decrypt: %w: %w: OpenPGP Symmetrically Encrypted Data packet (tag 9)", ErrUnsupportedFormat, ErrNoIntegrityProtection))
	case errors.As(f.err, &malformed):
		return p.outerError(fmt.Errorf("decrypt: %w: %w", ErrCorrupt, malformed))
	case f.err == io.ErrUnexpectedEOF || f.err == io.EOF && !f.done:
		return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP message cut short", ErrCorrupt))
	case isUnsupported(err):
		return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP: %w", ErrUnsupportedFormat, err))
	default:
		return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP: %w", ErrCorrupt, err))
	}
}

// innerError classifies an error met reading the encrypted data. Unless
// the source, the armour or the framing failed, or decompression went past
// its bound, the rest of the encrypted data is read and its integrity
// checked first: a message that fails it is damaged, whatever else was
// wrong with what it decrypted to.
func (p *openpgpPlaintext) innerError(err error) error {
	if errors.Is(err, ErrDecompressionLimit) {
		return p.outerError(err)
	}
	if e := p.outerError(nil); e != nil {
		return e
	}
	if p.framer.err == io.ErrUnexpectedEOF {
		return fmt.Errorf("decrypt: %w: OpenPGP message cut short", ErrCorrupt)
	}
	if _, derr := io.Copy(io.Discard, p.dec); derr != nil {
		return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP integrity check failed: %w", ErrCorrupt, derr))
	}
	if cerr := p.dec.Close(); cerr != nil {
		return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP integrity check failed: %w", ErrCorrupt, cerr))
	}
	// Authentic, but not a message ttpgate reads.
	var u unsupportedCompression
	if errors.As(err, &u) {
		return fmt.Errorf("decrypt: %w: OpenPGP: %w", ErrUnsupportedFormat, err)
	}
	return fmt.Errorf("decrypt: %w: %w", ErrCorrupt, err)
}

// nextLiteral reads packets up to the literal data packet, skipping
// signatures and descending into compressed data.
func (p *openpgpPlaintext) nextLiteral() error {
	for {
		top := p.levels[len(p.levels)-1]
		tag, body, err := readPacket(top.r)
		if err == io.EOF {
			if len(p.levels) == 1 {
				return errMalformed("no literal data")
			}
			if err := p.popLevel(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		switch tag {
		case tagOnePassSig, tagSignature, tagMarker, tagPadding:
			if _, err := io.Copy(io.Discard, body); err != nil {
				return err
			}
		case tagCompressed:
			if len(p.levels) > maxCompressionDepth {
				return errMalformed("compressed data nested too deep")
			}
			if err := p.pushDecompressor(body); err != nil {
				return err
			}
		case tagLiteral:
			// Format, file name (length-prefixed) and date: ignored.
			var hdr [2]byte
			if _, err := io.ReadFull(body, hdr[:]); err != nil {
				return unexpectedEOF(err)
			}
			if _, err := io.CopyN(io.Discard, body, int64(hdr[1])+4); err != nil {
				return unexpectedEOF(err)
			}
			p.literal = body
			return nil
		default:
			return errMalformed(fmt.Sprintf("a packet of type %d in the encrypted data", tag))
		}
	}
}

type unsupportedCompression byte

func (u unsupportedCompression) Error() string {
	return fmt.Sprintf("compression algorithm %d", byte(u))
}

// pushDecompressor makes what a compressed packet's body decompresses to the
// packet stream read next.
func (p *openpgpPlaintext) pushDecompressor(body *packetBody) error {
	// A ByteReader, so that the decompressors read no further than their
	// data, and what follows it in the packet shows.
	br := bufio.NewReader(body)
	algo, err := br.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	var d io.Reader
	var closer io.Closer
	switch algo {
	case 0:
		d = br
	case 1:
		fr := flate.NewReader(br)
		d, closer = fr, fr
	case 2:
		zr, err := zlib.NewReader(br)
		if err != nil {
			return err
		}
		d, closer = zr, zr
	case 3:
		d = bzip2.NewReader(br)
	default:
		return unsupportedCompression(algo)
	}
	p.levels = append(p.levels, &pgpLevel{r: bufio.NewReader(&inflateCounter{r: d, p: p}), body: br, closer: closer})
	return nil
}

// popLevel ends a decompressed stream: the compressed data must end where
// its packet does.
func (p *openpgpPlaintext) popLevel() error {
	l := p.levels[len(p.levels)-1]
	if _, err := l.body.Peek(1); err != io.EOF {
		if err != nil {
			return err
		}
		return errMalformed("data after the compressed data in its packet")
	}
	if l.closer != nil {
		if err := l.closer.Close(); err != nil {
			return err
		}
	}
	p.levels = p.levels[:len(p.levels)-1]
	return nil
}

// inflateCounter counts what a decompressor returns and stops it past the
// bound of MaxExpansion.
type inflateCounter struct {
	r io.Reader
	p *openpgpPlaintext
}

func (c *inflateCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.inflated += int64(n)
	if c.p.inflated > ExpansionAllowance+MaxExpansion*c.p.src.n {
		return n, fmt.Errorf("decrypt: %w: more than %d times the %d bytes read", ErrDecompressionLimit, MaxExpansion, c.p.src.n)
	}
	if c.p.inflated > MaxPlaintext {
		return n, fmt.Errorf("decrypt: %w: more than %d GiB", ErrDecompressionLimit, MaxPlaintext>>30)
	}
	return n, err
}

func (p *openpgpPlaintext) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.literal.Read(b)
	switch {
	case err == nil:
	case err == io.EOF:
		p.err = p.finish()
	default:
		p.err = p.innerError(err)
	}
	return n, p.err
}

// finish reads what follows the literal data (signatures), checks the
// integrity of the encrypted data, and that the message and the input end
// there.
func (p *openpgpPlaintext) finish() error {
	for {
		top := p.levels[len(p.levels)-1]
		tag, body, err := readPacket(top.r)
		if err == io.EOF {
			if len(p.levels) == 1 {
				break
			}
			if err := p.popLevel(); err != nil {
				return p.innerError(err)
			}
			continue
		}
		if err != nil {
			return p.innerError(err)
		}
		switch tag {
		case tagSignature, tagMarker, tagPadding:
			if _, err := io.Copy(io.Discard, body); err != nil {
				return p.innerError(err)
			}
		default:
			return p.innerError(errMalformed(fmt.Sprintf("a packet of type %d after the literal data", tag)))
		}
	}
	if err := p.dec.Close(); err != nil {
		return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP integrity check failed: %w", ErrCorrupt, err))
	}
	return p.checkEnd()
}

// checkEnd checks, once the encrypted data has been read and checked, that
// its packet ends there, and the input with it.
func (p *openpgpPlaintext) checkEnd() error {
	var one [1]byte
	if n, err := io.ReadFull(p.framer, one[:]); n > 0 || err != io.EOF || !p.framer.done {
		return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP data after the end of the encrypted data", ErrCorrupt))
	}
	if n, _ := io.ReadFull(p.framer.r, one[:]); n > 0 {
		return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP data after the end of the message (two messages in one file?)", ErrCorrupt))
	}
	if p.armour != nil {
		if err := p.armour.checkEnd(); err != nil {
			return p.outerError(fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, err))
		}
	}
	if err := p.outerError(nil); err != nil {
		return err
	}
	return io.EOF
}
