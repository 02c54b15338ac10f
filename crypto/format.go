// Package crypto holds what ttpgate needs of cryptography: recognising an
// encrypted upload by its first bytes, decrypting age files and OpenPGP
// messages, reading key files that only their owner may read, keyed-hash
// pseudonyms, the BSN elfproef, and generating a deployment's keys.
//
// It knows no CSV and never logs: errors carry no key material and no value
// from a decrypted file.
package crypto

import (
	"bytes"
	"encoding/base64"
)

// Format is the encryption format of a file, as told by its first bytes.
type Format int

const (
	// FormatUnknown is anything that is not recognisably encrypted,
	// including plaintext, an empty file and an OpenPGP message that is
	// signed or compressed but not encrypted.
	FormatUnknown Format = iota
	// FormatAge is an age v1 file, binary or ASCII-armoured.
	FormatAge
	// FormatOpenPGP is an encrypted OpenPGP message, binary or
	// ASCII-armoured.
	FormatOpenPGP
)

// String returns "unknown", "age" or "openpgp"; the names are stored in
// delivery metadata, so they do not change.
func (f Format) String() string {
	switch f {
	case FormatAge:
		return "age"
	case FormatOpenPGP:
		return "openpgp"
	default:
		return "unknown"
	}
}

// SniffLen is how many leading bytes DetectFormat needs to decide. Fewer
// (a shorter file) are fine: it then decides on what there is. A kibibyte,
// so that the first packet of an armoured message is seen past the armour
// headers tools write (GPGTools adds a Comment line, Mailvelope a Version
// and a Comment).
const SniffLen = 1024

const (
	ageIntro       = "age-encryption.org/v1\n"
	ageArmorHeader = "-----BEGIN AGE ENCRYPTED FILE-----"
	pgpArmorHeader = "-----BEGIN PGP MESSAGE-----"
)

// DetectFormat tells from the first bytes of a file (up to SniffLen) whether
// it is an age file, an encrypted OpenPGP message, or neither. The gateway
// refuses uploads for which it returns FormatUnknown, so that plaintext
// never rests in a drop-zone; the processor uses it to pick a decrypter.
//
// It recognises:
//   - age, binary: the intro line "age-encryption.org/v1\n".
//   - age, armoured: "-----BEGIN AGE ENCRYPTED FILE-----", after optional
//     leading whitespace (age accepts blank lines before it).
//   - OpenPGP, armoured: "-----BEGIN PGP MESSAGE-----", after optional
//     leading whitespace. The same armour line also wraps a message that
//     is only signed or stored (`gpg --sign --armor`: plaintext), so the
//     first packet is decoded from the base64 that follows the armour
//     headers and must be one that starts an encrypted message (see
//     armoredPacketTag). When no packet is in the sniffed bytes (headers
//     fill them, or the file ends), it is not recognised: fail closed.
//     Other armour blocks ("-----BEGIN PGP PUBLIC KEY
//     BLOCK-----", "-----BEGIN PGP SIGNATURE-----", a cleartext-signed
//     "-----BEGIN PGP SIGNED MESSAGE-----") are not messages, or are
//     plaintext, and are not recognised.
//   - OpenPGP, binary: see isOpenPGPEncrypted.
//
// A positive answer means "looks encrypted", not "is a valid file":
// decrypting still authenticates everything.
func DetectFormat(head []byte) Format {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	if bytes.HasPrefix(head, []byte(ageIntro)) {
		return FormatAge
	}
	if isOpenPGPEncrypted(head) {
		return FormatOpenPGP
	}
	text := bytes.TrimLeft(head, " \t\r\n")
	switch {
	case hasArmorLine(text, ageArmorHeader):
		return FormatAge
	case hasArmorLine(text, pgpArmorHeader):
		// Fail closed: armour headers that fill the sniffed bytes (or a
		// file that ends before its first packet) could hide a
		// signed-only message, which is plaintext.
		if tag, ok := armoredPacketTag(text[len(pgpArmorHeader):]); !ok || !startsEncryptedMessage(tag) {
			return FormatUnknown
		}
		return FormatOpenPGP
	}
	return FormatUnknown
}

// isPGPArmored reports whether head starts an ASCII-armoured OpenPGP message.
func isPGPArmored(head []byte) bool {
	return hasArmorLine(bytes.TrimLeft(head, " \t\r\n"), pgpArmorHeader)
}

// armoredPacketTag decodes the tag of the first packet of an armoured
// message from what follows its BEGIN line: the rest of that line end,
// armour headers ("Key: value" lines) up to a blank line, then base64. It
// reports ok false when the sniffed bytes end before the first two base64
// characters, or in a line that might still be a header. A complete line
// after the BEGIN line that is not a header starts the base64 too (some
// tools leave out the blank line). A tag of -1 means the base64 or the
// packet header is not valid: no message starts like that.
//
// Only the tag is checked, not the version octet as for binary input: the
// armour line is evidence enough that this is OpenPGP, and what must be
// refused here is the plaintext the same armour line can hold.
func armoredPacketTag(rest []byte) (tag int, ok bool) {
	// The end of the BEGIN line.
	rest = bytes.TrimPrefix(rest, []byte("\r"))
	rest, ok = bytes.CutPrefix(rest, []byte("\n"))
	if !ok {
		return 0, false
	}
	sawBlank := false
	for {
		line, after, complete := bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSpace(line)
		switch {
		case !complete && !sawBlank:
			return 0, false // a header, perhaps, cut off
		case complete && len(line) == 0:
			sawBlank = true
			rest = after
			continue
		case complete && !sawBlank && bytes.IndexByte(line, ':') >= 0:
			rest = after // a header
			continue
		case len(line) < 2:
			return 0, false
		}
		// The first line of base64: two characters give the first octet.
		quad := []byte("AAAA") // completes a short group; only octet 0 is used
		copy(quad, line[:min(len(line), 4)])
		var b [3]byte
		if _, err := base64.StdEncoding.Decode(b[:], quad); err != nil {
			return -1, true
		}
		return packetTag(b[0]), true
	}
}

// packetTag returns the tag of the packet whose header starts with b, or
// -1 if b cannot start a packet (bit 7 clear).
func packetTag(b byte) int {
	switch {
	case b&0x80 == 0:
		return -1
	case b&0x40 == 0: // old format
		return int(b>>2) & 0x0f
	default:
		return int(b & 0x3f)
	}
}

// startsEncryptedMessage reports whether a packet with this tag can be the
// first of an encrypted message (RFC 9580 §10.3): a session-key packet, or
// encrypted data without one.
func startsEncryptedMessage(tag int) bool {
	switch tag {
	case tagPKESK, tagSKESK, tagSED, tagSEIPD, tagAEAD:
		return true
	}
	return false
}

// isAgeArmored reports whether head starts an ASCII-armoured age file.
func isAgeArmored(head []byte) bool {
	return hasArmorLine(bytes.TrimLeft(head, " \t\r\n"), ageArmorHeader)
}

// hasArmorLine reports whether text starts with the armour line, ended by a
// line end or by the end of what was sniffed.
func hasArmorLine(text []byte, line string) bool {
	rest, ok := bytes.CutPrefix(text, []byte(line))
	return ok && (len(rest) == 0 || rest[0] == '\n' || rest[0] == '\r')
}

// OpenPGP packet tags (RFC 9580 §5) that can start an encrypted message
// (RFC 9580 §10.3: an optional sequence of session-key packets, then one
// encrypted-data packet).
const (
	tagPKESK = 1  // Public-Key Encrypted Session Key
	tagSKESK = 3  // Symmetric-Key Encrypted Session Key (passphrase)
	tagSED   = 9  // Symmetrically Encrypted Data (legacy, no integrity check)
	tagSEIPD = 18 // Symmetrically Encrypted and Integrity Protected Data
	tagAEAD  = 20 // OCB Encrypted Data (LibrePGP; written by GnuPG ≥ 2.3)
)

// isOpenPGPEncrypted reports whether head starts with a binary OpenPGP packet
// that begins an encrypted message.
//
// The first byte of a packet has bit 7 set. In the old format (bit 6 clear)
// the tag is bits 5–2 and bits 1–0 give the length encoding; in the new
// format (bit 6 set) the tag is bits 5–0 and the length follows in one, two
// or five octets, or as a partial length. Only the tags that can start an
// encrypted message are accepted: PKESK (1), SKESK (3), and a message with
// no session-key packet, which starts directly with encrypted data (9, 18,
// 20). The version octet after the length must be one the packet type has
// (PKESK 3 or 6, SKESK 4, 5 or 6, SEIPD 1 or 2, OCB 1), so random binary
// with a high first byte is not taken for OpenPGP.
//
// Deliberately not accepted:
//   - Compressed Data (8): a compressed message is not encrypted. It is what
//     `gpg --sign` writes (one-pass signature, literal data and signature,
//     compressed), readable by anyone; encrypted messages only contain
//     compressed data inside the encrypted packet.
//   - Literal Data (11), One-Pass Signature (4), Signature (2): plaintext.
//   - Marker (10): obsolete; a message that starts with one is refused.
func isOpenPGPEncrypted(head []byte) bool {
	if len(head) < 2 || head[0]&0x80 == 0 {
		return false
	}
	var tag, hdrLen int
	partial := false
	if head[0]&0x40 == 0 { // old format
		tag = int(head[0]>>2) & 0x0f
		switch head[0] & 0x03 {
		case 0:
			hdrLen = 2
		case 1:
			hdrLen = 3
		case 2:
			hdrLen = 5
		case 3: // indeterminate length: data packets only
			hdrLen = 1
			partial = true
		}
	} else { // new format
		tag = int(head[0] & 0x3f)
		switch l := head[1]; {
		case l < 192:
			hdrLen = 2
		case l < 224:
			hdrLen = 3
		case l < 255: // partial body length: data packets only
			hdrLen = 2
			partial = true
		default:
			hdrLen = 6
		}
	}
	if len(head) <= hdrLen {
		return false
	}
	version := head[hdrLen]
	switch tag {
	case tagPKESK:
		return !partial && (version == 3 || version == 6)
	case tagSKESK:
		return !partial && (version == 4 || version == 5 || version == 6)
	case tagSED:
		return true // no version octet: ciphertext from the first byte
	case tagSEIPD:
		return version == 1 || version == 2
	case tagAEAD:
		return version == 1
	}
	return false
}
