package crypto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// OpenPGP packet tags (RFC 9580 §5) that a message may hold besides those
// that start one (tagPKESK … tagAEAD, in format.go).
const (
	tagSignature  = 2
	tagOnePassSig = 4
	tagCompressed = 8
	tagMarker     = 10
	tagLiteral    = 11
	tagPadding    = 21
)

// Bounds on what a message may hold before its encrypted data, so that
// what is kept of it stays small: a PKESK of RSA-16384 or of ML-KEM-1024
// with X448 is under 2 KiB, and a message has one per recipient.
const (
	maxSessionKeyPackets   = 1000
	maxSessionKeyPacketLen = 64 << 10
)

// errMalformed is an OpenPGP packet structure that does not follow RFC 9580.
type errMalformed string

func (e errMalformed) Error() string { return "malformed OpenPGP message: " + string(e) }

// bodyLength is the length of a packet body, or of the next chunk of it.
type bodyLength struct {
	n       int64
	partial bool // a partial body length: another length follows these n octets
	toEOF   bool // old-format indeterminate length: the body runs to the end of the input
}

// readPacketHeader reads a packet header (RFC 9580 §4.2, old and new
// formats) from r: the tag and the (first) body length. It appends the
// octets it reads to raw, if raw is not nil. At a clean end of the input it
// returns io.EOF.
func readPacketHeader(r io.ByteReader, raw *[]byte) (tag int, l bodyLength, err error) {
	b, err := readByte(r, raw)
	if err != nil {
		return 0, l, err
	}
	tag = packetTag(b)
	if tag < 0 {
		return 0, l, errMalformed("not a packet header")
	}
	if b&0x40 != 0 {
		l, err = readNewLength(r, raw)
		return tag, l, err
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
		return tag, bodyLength{toEOF: true}, nil
	}
	for range n {
		c, err := readByte(r, raw)
		if err != nil {
			return 0, l, unexpectedEOF(err)
		}
		l.n = l.n<<8 | int64(c)
	}
	return tag, l, nil
}

// readNewLength reads a new-format body length: of a packet, or of the next
// chunk of a body with partial lengths.
func readNewLength(r io.ByteReader, raw *[]byte) (bodyLength, error) {
	o1, err := readByte(r, raw)
	if err != nil {
		return bodyLength{}, unexpectedEOF(err)
	}
	switch {
	case o1 < 192:
		return bodyLength{n: int64(o1)}, nil
	case o1 < 224:
		o2, err := readByte(r, raw)
		if err != nil {
			return bodyLength{}, unexpectedEOF(err)
		}
		return bodyLength{n: int64(o1-192)<<8 + int64(o2) + 192}, nil
	case o1 == 255:
		var n int64
		for range 4 {
			c, err := readByte(r, raw)
			if err != nil {
				return bodyLength{}, unexpectedEOF(err)
			}
			n = n<<8 | int64(c)
		}
		return bodyLength{n: n}, nil
	default:
		return bodyLength{n: 1 << (o1 & 0x1f), partial: true}, nil
	}
}

func readByte(r io.ByteReader, raw *[]byte) (byte, error) {
	b, err := r.ReadByte()
	if err == nil && raw != nil {
		*raw = append(*raw, b)
	}
	return b, err
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// packetBody reads the body of one packet, across partial body lengths, in
// constant memory, and ends (io.EOF) where the packet ends. A body cut short
// is io.ErrUnexpectedEOF.
type packetBody struct {
	r   *bufio.Reader
	l   bodyLength
	err error
}

// readPacket reads the next packet header from r and returns the tag and
// a reader of the body; io.EOF at a clean end of r.
func readPacket(r *bufio.Reader) (int, *packetBody, error) {
	tag, l, err := readPacketHeader(r, nil)
	if err != nil {
		return 0, nil, err
	}
	return tag, &packetBody{r: r, l: l}, nil
}

func (b *packetBody) Read(p []byte) (int, error) {
	for {
		switch {
		case b.err != nil:
			return 0, b.err
		case len(p) == 0:
			return 0, nil
		case b.l.toEOF:
			n, err := b.r.Read(p)
			b.err = err
			return n, err
		case b.l.n > 0:
			n, err := b.r.Read(p[:min(int64(len(p)), b.l.n)])
			b.l.n -= int64(n)
			if err == io.EOF && b.l.n == 0 {
				err = nil // the chunk's last octets came with the end of the input
			}
			b.err = unexpectedEOF(err)
			return n, b.err
		case b.l.partial:
			b.l, b.err = readNewLength(b.r, nil)
		default:
			b.err = io.EOF
		}
	}
}

// errSED stops at a Symmetrically Encrypted Data packet, which has no
// integrity protection: nothing of it is decrypted.
var errSED = errors.New("symmetrically encrypted data packet without integrity protection")

// messageFramer passes the packets of one OpenPGP message through, as they
// are, to go-crypto's packet parser, and ends (io.EOF) where the encrypted
// data packet ends. It follows only the packet framing, so that anything
// after the message is seen by checkEnd rather than skipped, and it keeps
// what comes before the encrypted data to what an encrypted message holds
// (RFC 9580 §10.3): session-key packets, of bounded number and size, and
// marker and padding packets, which are ignored. Any other packet (a user
// id, a key) is refused before go-crypto parses it: go-crypto reads some
// packets whole into memory. It counts the session-key packets, so that a
// passphrase-only message can be told from one for other keys.
type messageFramer struct {
	r       *bufio.Reader
	pending []byte // header octets read and not yet passed on
	l       bodyLength
	tag     int  // of the current packet
	inData  bool // the current packet is the encrypted data packet
	done    bool // the encrypted data packet has ended
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
		switch {
		case f.err != nil:
			return 0, f.err
		case len(p) == 0:
			return 0, nil
		case f.l.toEOF:
			n, err := f.r.Read(p)
			if err == io.EOF {
				f.done = f.inData
			}
			f.err = err
			return n, err
		case f.l.n > 0:
			n, err := f.r.Read(p[:min(int64(len(p)), f.l.n)])
			f.l.n -= int64(n)
			if err == io.EOF && f.l.n == 0 {
				err = nil // the chunk's last octets came with the end of the input
			}
			f.err = unexpectedEOF(err) // a packet cut short
			return n, f.err
		case f.l.partial:
			f.l, f.err = readNewLength(f.r, &f.pending)
		case f.inData:
			f.done, f.err = true, io.EOF
		default:
			f.err = f.readHeader()
		}
	}
}

// readHeader reads the next packet's header, and checks it against what
// may come before the encrypted data.
func (f *messageFramer) readHeader() error {
	tag, l, err := readPacketHeader(f.r, &f.pending)
	if err != nil {
		return err // io.EOF: the message ended before its encrypted data
	}
	f.tag, f.l = tag, l
	switch tag {
	case tagPKESK, tagSKESK:
		if tag == tagPKESK {
			f.pkesk++
		} else {
			f.skesk++
		}
		if f.pkesk+f.skesk > maxSessionKeyPackets {
			return errMalformed(fmt.Sprintf("more than %d session-key packets", maxSessionKeyPackets))
		}
		fallthrough
	case tagMarker:
		if l.partial || l.toEOF || l.n > maxSessionKeyPacketLen {
			return errMalformed(fmt.Sprintf("a packet of type %d longer than %d octets", tag, maxSessionKeyPacketLen))
		}
	case tagPadding:
	case tagSED:
		f.sawSED, f.pending = true, nil
		return errSED
	case tagSEIPD, tagAEAD:
		f.inData = true
	default:
		return errMalformed(fmt.Sprintf("a packet of type %d before the encrypted data", tag))
	}
	return nil
}

// skipRest discards what go-crypto left unread of the current packet (a
// session-key, marker or padding packet), so that the next read starts at a
// packet header.
func (f *messageFramer) skipRest() error {
	var buf [512]byte
	for !f.inData && f.err == nil && len(f.pending) == 0 && (f.l.n > 0 || f.l.partial || f.l.toEOF) {
		if _, err := f.Read(buf[:]); err != nil {
			return err
		}
	}
	return nil
}
