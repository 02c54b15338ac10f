package crypto

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// maxArmorLine bounds one line of OpenPGP armour. RFC 9580 limits base64
// lines to 76 characters; headers are short too.
const maxArmorLine = 4096

const pgpArmorFooter = "-----END PGP MESSAGE-----"

// armorReader decodes the body of an ASCII-armoured OpenPGP message
// (RFC 9580 §6.2) as a stream, in memory bounded by maxArmorLine.
//
// It is ours rather than go-crypto's armor.Decode because that one keeps
// every header, however long, in memory (a line without end in the
// headers of an upload would exhaust the processor's memory), and hides
// what follows the END line in its own buffer, where checkEnd could not
// see a second message. The CRC line is ignored, as RFC 9580 says.
type armorReader struct {
	lines *armorLines
	dec   io.Reader
	// err is the first error in the armour itself (not of the source
	// under it), for a clearer message than go-crypto's about the packets.
	err error
}

// newArmorReader reads the BEGIN line (after blank lines) and the armour
// headers, which are skipped, and returns a reader of the binary message.
func newArmorReader(r io.Reader) (*armorReader, error) {
	l := &armorLines{br: bufio.NewReaderSize(r, maxArmorLine)}
	for {
		line, err := l.readLine()
		if err != nil {
			return nil, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if string(line) != pgpArmorHeader {
			return nil, fmt.Errorf("the armour does not start with %s", pgpArmorHeader)
		}
		break
	}
	for {
		line, err := l.readLine()
		if err != nil {
			return nil, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			break // the blank line before the base64
		}
		if bytes.IndexByte(line, ':') < 0 {
			l.body(line) // no blank line: this is base64 already
			break
		}
	}
	a := &armorReader{lines: l}
	a.dec = base64.NewDecoder(base64.StdEncoding, l)
	return a, nil
}

func (a *armorReader) Read(p []byte) (int, error) {
	n, err := a.dec.Read(p)
	if err != nil && err != io.EOF && a.err == nil {
		a.err = err
	}
	return n, err
}

// checkEnd, called once the binary message has been read to its end,
// checks that the END line was there and that only white space follows it.
func (a *armorReader) checkEnd() error {
	if a.err != nil {
		return a.err
	}
	if !a.lines.end {
		return errors.New("no END line")
	}
	var buf [512]byte
	for {
		n, err := a.lines.br.Read(buf[:])
		if len(bytes.TrimSpace(buf[:n])) > 0 {
			return errors.New("data after the END line (two messages in one file?)")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// armorLines returns the base64 characters of the armour's body lines and
// io.EOF at its END line.
type armorLines struct {
	br   *bufio.Reader
	line []byte // what is left of the current base64 line
	crc  bool   // the CRC line was read: only the END line may follow
	end  bool   // the END line was read
	err  error
}

// readLine returns the next line, with its line end; the last line of the
// input may lack one.
func (l *armorLines) readLine() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, fmt.Errorf("an armour line longer than %d bytes", maxArmorLine)
	case err == io.EOF && len(line) > 0:
		return line, nil
	case err == io.EOF:
		return nil, errors.New("the armour ends without its END line")
	}
	return line, err
}

// body takes a trimmed line of the body.
func (l *armorLines) body(line []byte) {
	switch {
	case bytes.HasPrefix(line, []byte("-----")):
		if string(line) != pgpArmorFooter {
			l.err = errors.New("an armour line that is not the END of the message")
			return
		}
		l.end, l.err = true, io.EOF
	case l.crc:
		l.err = errors.New("data after the armour checksum")
	case len(line) == 5 && line[0] == '=':
		l.crc = true
	case len(line) == 0:
		// A blank line in the body: skipped.
	default:
		l.line = line // valid until the next read of br, after it is used
	}
}

func (l *armorLines) Read(p []byte) (int, error) {
	for len(l.line) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		line, err := l.readLine()
		if err != nil {
			l.err = err
			continue
		}
		l.body(bytes.TrimSpace(line))
	}
	n := copy(p, l.line)
	l.line = l.line[n:]
	return n, nil
}
