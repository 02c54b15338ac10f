package crypto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// OpenPGPKey is one OpenPGP private key: a primary key with its subkeys, of
// which at least one can decrypt and has its secret part, unprotected.
type OpenPGPKey struct {
	entity *openpgp.Entity
	// decrypters are the keys (primary or subkeys) whose self-signature
	// allows encryption and whose secret part is there and unprotected:
	// the only ones a message is decrypted with.
	decrypters []openpgp.Key
}

// Fingerprint returns the fingerprint of the primary key in upper-case
// hexadecimal, as gpg shows it. It is public: senders check it.
func (k *OpenPGPKey) Fingerprint() string {
	return fmt.Sprintf("%X", k.entity.PrimaryKey.Fingerprint)
}

// LoadOpenPGPKeys reads OpenPGP private key files, each checked by
// ReadKeyFile, and returns all their keys in order. A file is an
// ASCII-armoured private key block ("-----BEGIN PGP PRIVATE KEY
// BLOCK-----") of one or more keys, as `ttpgate keygen` writes openpgp.key
// and `gpg --export-secret-keys --armor` exports. Every key needs an
// encryption key (the primary or a subkey) whose secret part is in the file
// and not protected by a passphrase: like the age identity, the key file is
// protected by its mode (0600) and the machine, not by a passphrase that
// would have to be stored next to it. Remove a passphrase in gpg with
// `gpg --passwd` (entering an empty one) before exporting.
//
// Errors name the file, never its contents.
func LoadOpenPGPKeys(paths ...string) ([]*OpenPGPKey, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("load OpenPGP keys: no key file")
	}
	var keys []*OpenPGPKey
	for _, path := range paths {
		data, err := ReadKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("load OpenPGP keys: %w", err)
		}
		fileKeys, err := parseOpenPGPKeys(data)
		if err != nil {
			return nil, fmt.Errorf("load OpenPGP keys: %s: %w", path, err)
		}
		keys = append(keys, fileKeys...)
	}
	return keys, nil
}

// parseOpenPGPKeys parses the armoured private key blocks of a key file
// (one block may hold several keys; several blocks may follow each other)
// and checks that every key in them can decrypt.
func parseOpenPGPKeys(data []byte) ([]*OpenPGPKey, error) {
	const notKey = "not an ASCII-armoured OpenPGP private key (-----BEGIN PGP PRIVATE KEY BLOCK-----)"
	var entities openpgp.EntityList
	blocks := splitArmorBlocks(data)
	if len(blocks) == 0 {
		return nil, errors.New(notKey)
	}
	for _, b := range blocks {
		block, err := armor.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, errors.New(notKey)
		}
		switch block.Type {
		case openpgp.PrivateKeyType:
		case openpgp.PublicKeyType:
			return nil, errors.New("holds a public key, not a private key; export the private key with gpg --export-secret-keys --armor")
		default:
			return nil, fmt.Errorf("holds a %q block, not an OpenPGP private key", block.Type)
		}
		el, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			// go-crypto's messages name packet types and algorithm
			// numbers, never key material.
			return nil, fmt.Errorf("not a valid OpenPGP private key: %w", err)
		}
		entities = append(entities, el...)
	}
	if len(entities) == 0 {
		return nil, errors.New("no key in the file")
	}
	keys := make([]*OpenPGPKey, 0, len(entities))
	for _, e := range entities {
		k := &OpenPGPKey{entity: e}
		protected := false
		for _, c := range encryptionKeys(e) {
			switch {
			case c.PrivateKey == nil || c.PrivateKey.Dummy():
			case c.PrivateKey.Encrypted:
				protected = true
			default:
				k.decrypters = append(k.decrypters, c)
			}
		}
		switch {
		case len(k.decrypters) > 0:
		case protected:
			return nil, fmt.Errorf("key %s is protected by a passphrase; ttpgate reads keys without one (remove it with gpg --passwd, entering an empty passphrase, then export again)", k.Fingerprint())
		default:
			return nil, fmt.Errorf("key %s has no encryption key with its secret part", k.Fingerprint())
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// splitArmorBlocks splits data at the start of every armour block (a line
// that starts with "-----BEGIN "); what comes before the first is dropped
// if it is white space, and makes the result empty otherwise.
func splitArmorBlocks(data []byte) [][]byte {
	var blocks [][]byte
	start := -1
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += i + 1
		}
		if bytes.HasPrefix(bytes.TrimLeft(data[i:end], " \t"), []byte("-----BEGIN ")) {
			if start < 0 && len(bytes.TrimSpace(data[:i])) > 0 {
				return nil
			}
			if start >= 0 {
				blocks = append(blocks, data[start:i])
			}
			start = i
		}
		i = end
	}
	if start >= 0 {
		blocks = append(blocks, data[start:])
	}
	return blocks
}

// encryptionKeys returns the primary key and the subkeys of e whose
// self-signature has valid key flags that allow encryption. A key flagged
// for signing or certification only is never used to decrypt, whatever a
// message says: no cross-protocol use of a signing key.
func encryptionKeys(e *openpgp.Entity) []openpgp.Key {
	var keys []openpgp.Key
	canEncrypt := func(sig *packet.Signature) bool {
		return sig != nil && sig.FlagsValid && (sig.FlagEncryptCommunications || sig.FlagEncryptStorage)
	}
	if sig, _ := e.PrimarySelfSignature(); canEncrypt(sig) {
		keys = append(keys, openpgp.Key{Entity: e, PublicKey: e.PrimaryKey, PrivateKey: e.PrivateKey,
			SelfSignature: sig, Revocations: e.Revocations})
	}
	for _, sub := range e.Subkeys {
		if canEncrypt(sub.Sig) {
			keys = append(keys, openpgp.Key{Entity: e, PublicKey: sub.PublicKey, PrivateKey: sub.PrivateKey,
				SelfSignature: sub.Sig, Revocations: sub.Revocations})
		}
	}
	return keys
}

// MaxExpansion and ExpansionAllowance bound what a compressed OpenPGP
// message may decompress to: at any point of the stream, the plaintext
// returned may be at most MaxExpansion times the ciphertext bytes read so
// far, plus ExpansionAllowance. CSV extracts compress 5 to 8 times with
// zlib or bzip2, so real files stay far below; a decompression bomb (a
// small message that inflates to terabytes, also by nesting compressed
// packets) is stopped with ErrDecompressionLimit after at most that much.
// go-crypto itself does not bound decompression, and the processor does
// not bound the number of rows. age does not compress: its plaintext is
// never larger than the file.
const (
	MaxExpansion       = 100
	ExpansionAllowance = 1 << 20
)

// decryptOpenPGP decrypts an OpenPGP message with github.com/ProtonMail/
// go-crypto; in is the source under ciphertext. What it accepts:
//
//   - A message of session-key packets then one encrypted data packet
//     (RFC 9580 §10.3), binary or ASCII-armoured ("-----BEGIN PGP
//     MESSAGE-----", headers allowed; the CRC line is ignored, as RFC 9580
//     says). Nothing but white space may follow the armour's END line, and
//     nothing may follow the encrypted data packet: two messages
//     concatenated are refused (ErrCorrupt), not half read.
//   - The session key encrypted to one of keys (PKESK, also with the key id
//     hidden: gpg --hidden-recipient), by an encryption-capable (sub)key.
//     A message for other keys only is ErrNoMatchingKey; one with only a
//     passphrase (SKESK: gpg --symmetric) is ErrNoMatchingKey and
//     ErrPassphraseOnly. Passphrases are never tried.
//   - Integrity-protected data only: SEIPD v1 (with MDC, what GnuPG 2.2
//     writes), SEIPD v2 and OCB (AEAD). A Symmetrically Encrypted Data
//     packet (tag 9, no MDC) is refused before decryption with
//     ErrUnsupportedFormat and ErrNoIntegrityProtection. A failed MDC or
//     AEAD check is ErrCorrupt; for SEIPD v1 it is known only at the end of
//     the message, so the plaintext before io.EOF is unauthenticated.
//   - Compressed (ZIP, ZLIB, BZip2) or not; decompression is bounded by
//     MaxExpansion.
//   - Signed or not: signatures are parsed and ignored, never verified (no
//     sender keys are configured; senders are authenticated by the
//     gateway). A signed message decrypts as the same message unsigned.
//   - The plaintext is the literal data packet's content as is: the file
//     name and date in it are ignored, as is text mode.
func decryptOpenPGP(ciphertext io.Reader, armored bool, in *sourceReader, keys []*OpenPGPKey) (io.Reader, error) {
	var bin *bufio.Reader
	var armour *armorReader
	if armored {
		ar, err := newArmorReader(ciphertext)
		if err != nil {
			if in.err != nil {
				return nil, fmt.Errorf("decrypt: read input: %w", in.err)
			}
			return nil, fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, err)
		}
		armour = ar
		bin = bufio.NewReader(ar)
	} else {
		bin = bufio.NewReader(ciphertext)
	}
	fail := func(err error) (io.Reader, error) {
		switch {
		case in.err != nil:
			return nil, fmt.Errorf("decrypt: read input: %w", in.err)
		case armour != nil && armour.err != nil:
			return nil, fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, armour.err)
		}
		return nil, err
	}
	// The first packet decides whether this is an encrypted message at all:
	// an armoured message is not looked into by DetectFormat when its
	// headers are long.
	first, err := bin.Peek(1)
	if err != nil {
		return fail(fmt.Errorf("decrypt: %w: OpenPGP: empty message", ErrCorrupt))
	}
	if !startsEncryptedMessage(packetTag(first[0])) {
		return fail(fmt.Errorf("decrypt: %w: an OpenPGP message that is not encrypted (signed, compressed or stored only)", ErrNotEncrypted))
	}
	f := &messageFramer{r: bin}
	kr := &openpgpKeyring{keys: keys}
	md, err := openpgp.ReadMessage(f, kr, nil, &packet.Config{})
	if err != nil {
		if in.err != nil {
			return nil, fmt.Errorf("decrypt: read input: %w", in.err)
		}
		switch {
		case f.sawSED:
			return nil, fmt.Errorf("decrypt: %w: %w: OpenPGP Symmetrically Encrypted Data packet (tag 9)", ErrUnsupportedFormat, ErrNoIntegrityProtection)
		case errors.Is(err, pgperrors.ErrKeyIncorrect) && kr.named:
			return nil, fmt.Errorf("decrypt: %w: the OpenPGP session key for our key does not decrypt", ErrCorrupt)
		case errors.Is(err, pgperrors.ErrKeyIncorrect) && f.pkesk == 0 && f.skesk > 0:
			return nil, fmt.Errorf("decrypt: %w: %w", ErrNoMatchingKey, ErrPassphraseOnly)
		case errors.Is(err, pgperrors.ErrKeyIncorrect) && f.pkesk == 0:
			return nil, fmt.Errorf("decrypt: %w: OpenPGP encrypted data without a session key packet", ErrCorrupt)
		case errors.Is(err, pgperrors.ErrKeyIncorrect):
			return nil, fmt.Errorf("decrypt: %w: OpenPGP: the message is for %d other key(s)", ErrNoMatchingKey, f.pkesk)
		case isUnsupported(err):
			return nil, fmt.Errorf("decrypt: %w: OpenPGP: %w", ErrUnsupportedFormat, err)
		case armour != nil && armour.err != nil:
			return nil, fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, armour.err)
		case f.err == io.ErrUnexpectedEOF || f.err == io.EOF && !f.done:
			return nil, fmt.Errorf("decrypt: %w: OpenPGP message cut short", ErrCorrupt)
		default:
			return nil, fmt.Errorf("decrypt: %w: OpenPGP: %w", ErrCorrupt, err)
		}
	}
	if !md.IsEncrypted {
		// Not reached: the first packet was checked above.
		return nil, fmt.Errorf("decrypt: %w", ErrNotEncrypted)
	}
	return &openpgpPlaintext{body: md.UnverifiedBody, src: in, framer: f, armour: armour}, nil
}

func isUnsupported(err error) bool {
	var u pgperrors.UnsupportedError
	return errors.As(err, &u)
}

// openpgpKeyring is the openpgp.KeyRing ReadMessage asks for keys.
type openpgpKeyring struct {
	keys []*OpenPGPKey
	// named is set when a PKESK named one of our decryption keys by id:
	// if it then does not decrypt, the message is damaged, not for
	// someone else.
	named bool
}

// KeysById returns our decryption keys with this id (ReadMessage asks for
// each PKESK's key id).
func (k *openpgpKeyring) KeysById(id uint64) []openpgp.Key {
	var out []openpgp.Key
	for _, key := range k.keys {
		for _, d := range key.decrypters {
			if d.PublicKey.KeyId == id {
				out = append(out, d)
			}
		}
	}
	if len(out) > 0 {
		k.named = true
	}
	return out
}

// KeysByIdUsage returns nothing: ReadMessage asks it for the key of a
// message's signer, and signatures are not verified.
func (k *openpgpKeyring) KeysByIdUsage(uint64, byte) []openpgp.Key { return nil }

// DecryptionKeys returns every decryption key, for a PKESK whose key id is
// hidden (zero).
func (k *openpgpKeyring) DecryptionKeys() []openpgp.Key {
	var out []openpgp.Key
	for _, key := range k.keys {
		out = append(out, key.decrypters...)
	}
	return out
}

// openpgpPlaintext classifies the errors of go-crypto's plaintext reader,
// bounds decompression, and at the end checks that the message ended
// where the input does. Its errors are sticky.
type openpgpPlaintext struct {
	body   io.Reader
	src    *sourceReader
	framer *messageFramer
	armour *armorReader
	n      int64 // plaintext bytes returned
	err    error
}

func (p *openpgpPlaintext) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.body.Read(b)
	p.n += int64(n)
	switch {
	case p.src.err != nil:
		p.err = fmt.Errorf("decrypt: read input: %w", p.src.err)
	case p.n > ExpansionAllowance+MaxExpansion*p.src.n:
		p.err = fmt.Errorf("decrypt: %w: more than %d times the %d bytes read", ErrDecompressionLimit, MaxExpansion, p.src.n)
	case err == nil:
	case err == io.EOF:
		p.err = p.checkEnd()
	case p.armour != nil && p.armour.err != nil:
		p.err = fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, p.armour.err)
	case p.framer.err == io.ErrUnexpectedEOF || errors.Is(err, io.ErrUnexpectedEOF):
		p.err = fmt.Errorf("decrypt: %w: OpenPGP message cut short", ErrCorrupt)
	default:
		// An MDC or AEAD tag mismatch, or what go-crypto reports instead
		// of a parse error in decrypted data (against oracles): either way
		// the message is not what the sender encrypted.
		p.err = fmt.Errorf("decrypt: %w: OpenPGP integrity check failed: %w", ErrCorrupt, err)
	}
	return n, p.err
}

// checkEnd is called when go-crypto has checked the integrity of the
// message and returned all of its plaintext: the encrypted data packet
// must end there, and the input with it.
func (p *openpgpPlaintext) checkEnd() error {
	var one [1]byte
	if n, err := io.ReadFull(p.framer, one[:]); n > 0 || err != io.EOF || !p.framer.done {
		return p.endError(fmt.Errorf("decrypt: %w: OpenPGP data after the end of the plaintext", ErrCorrupt))
	}
	if n, _ := io.ReadFull(p.framer.r, one[:]); n > 0 {
		return p.endError(fmt.Errorf("decrypt: %w: OpenPGP data after the end of the message (two messages in one file?)", ErrCorrupt))
	}
	if p.armour != nil {
		if err := p.armour.checkEnd(); err != nil {
			return p.endError(fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, err))
		}
	}
	if p.src.err != nil {
		return fmt.Errorf("decrypt: read input: %w", p.src.err)
	}
	return io.EOF
}

func (p *openpgpPlaintext) endError(err error) error {
	if p.src.err != nil {
		return fmt.Errorf("decrypt: read input: %w", p.src.err)
	}
	if p.armour != nil && p.armour.err != nil {
		return fmt.Errorf("decrypt: %w: OpenPGP armour: %w", ErrCorrupt, p.armour.err)
	}
	return err
}

// errSED stops go-crypto at a Symmetrically Encrypted Data packet, which
// has no integrity protection: nothing of it is decrypted.
var errSED = errors.New("symmetrically encrypted data packet without integrity protection")

// messageFramer passes the packets of one OpenPGP message through, as they
// are, to go-crypto, which parses them again, and ends (io.EOF) where the
// encrypted data packet ends. It follows only the packet framing (RFC 9580
// §4.2: old and new formats, partial body lengths), so that anything after
// the message is seen by checkEnd rather than skipped by go-crypto, and it
// counts the session-key packets, so that a passphrase-only message can be
// told from one for other keys.
type messageFramer struct {
	r       *bufio.Reader
	pending []byte // header octets read and not yet passed on
	remain  int64  // body octets left in the current (partial) chunk
	partial bool   // another length follows the current chunk
	toEOF   bool   // old-format indeterminate length: the packet runs to the end
	inData  bool   // the current packet is the encrypted data packet
	done    bool   // the encrypted data packet has ended
	pkesk   int
	skesk   int
	sawSED  bool
	err     error
}

func (f *messageFramer) Read(p []byte) (int, error) {
	for {
		if len(f.pending) > 0 {
			n := copy(p, f.pending)
			f.pending = f.pending[n:]
			return n, nil
		}
		if f.err != nil {
			return 0, f.err
		}
		switch {
		case len(p) == 0:
			return 0, nil
		case f.toEOF:
			n, err := f.r.Read(p)
			if err == io.EOF {
				f.done, f.err = f.inData, io.EOF
			}
			return n, err
		case f.remain > 0:
			n, err := f.r.Read(p[:min(int64(len(p)), f.remain)])
			f.remain -= int64(n)
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the packet is cut short
			}
			if err != nil {
				f.err = err
			}
			return n, err
		case f.partial:
			f.err = f.readLength()
		case f.inData:
			f.done, f.err = true, io.EOF
		default:
			f.err = f.readHeader()
		}
	}
}

// readHeader reads the next packet's tag and length.
func (f *messageFramer) readHeader() error {
	b, err := f.r.ReadByte()
	if err != nil {
		return err // io.EOF: the message ended before its encrypted data
	}
	f.pending = append(f.pending, b)
	tag := packetTag(b)
	switch tag {
	case -1:
		return pgperrors.StructuralError("not an OpenPGP packet header")
	case tagPKESK:
		f.pkesk++
	case tagSKESK:
		f.skesk++
	case tagSED:
		f.sawSED, f.pending = true, nil
		return errSED
	case tagSEIPD, tagAEAD:
		f.inData = true
	}
	if b&0x40 != 0 {
		return f.readLength()
	}
	var n int
	switch b & 0x03 {
	case 0:
		n = 1
	case 1:
		n = 2
	case 2:
		n = 4
	case 3:
		f.toEOF = true
		return nil
	}
	var buf [4]byte
	if _, err := io.ReadFull(f.r, buf[:n]); err != nil {
		return io.ErrUnexpectedEOF
	}
	f.pending = append(f.pending, buf[:n]...)
	f.remain = 0
	for _, c := range buf[:n] {
		f.remain = f.remain<<8 | int64(c)
	}
	return nil
}

// readLength reads a new-format body length: of a packet, or of the next
// chunk of a packet with partial body lengths.
func (f *messageFramer) readLength() error {
	unexpected := func(err error) error {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	o1, err := f.r.ReadByte()
	if err != nil {
		return unexpected(err)
	}
	f.pending = append(f.pending, o1)
	f.partial = false
	switch {
	case o1 < 192:
		f.remain = int64(o1)
	case o1 < 224:
		o2, err := f.r.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		f.pending = append(f.pending, o2)
		f.remain = int64(o1-192)<<8 + int64(o2) + 192
	case o1 == 255:
		var buf [4]byte
		if _, err := io.ReadFull(f.r, buf[:]); err != nil {
			return io.ErrUnexpectedEOF
		}
		f.pending = append(f.pending, buf[:]...)
		f.remain = int64(buf[0])<<24 | int64(buf[1])<<16 | int64(buf[2])<<8 | int64(buf[3])
	default:
		f.remain = 1 << (o1 & 0x1f)
		f.partial = true
	}
	return nil
}
