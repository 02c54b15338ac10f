package gateway

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
)

// The aws-chunked payload encoding, as S3 clients send it:
//
//	SIZE;chunk-signature=SIG\r\n  DATA \r\n     (repeated; SIZE in hex)
//	0;chunk-signature=SIG\r\n                   (the final chunk)
//	x-amz-checksum-crc32:BASE64\r\n             (trailer modes only)
//	x-amz-trailer-signature:SIG\r\n             (signed trailer only)
//	\r\n
//
// Unsigned chunks (STREAMING-UNSIGNED-PAYLOAD-TRAILER) have no
// ";chunk-signature=SIG". See
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// sigv4-streaming-trailers.html.

// chunkedMaxLine bounds a chunk-size or trailer line, CRLF included: the
// longest S3 defines is under 100 bytes. It is also the size of the read
// buffer, the decoder's only allocation that grows with nothing.
const chunkedMaxLine = 4096

// emptySHA256Hex is the hex SHA-256 of nothing, a fixed line of every chunk's
// string to sign.
const emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// chunkSigner checks the chain of chunk signatures of a streaming payload:
// each chunk's signature covers its data and the signature before it, the
// first chains from the request's (the seed), so chunks can be neither
// changed, dropped, reordered nor added.
type chunkSigner struct {
	key     []byte // the request's signing key
	amzDate string
	scope   string
	prev    []byte // the signature the next one chains from
}

// chunk checks the signature of a chunk whose data hashes to sum, and
// advances the chain.
func (s *chunkSigner) chunk(sum, claimed []byte) bool {
	sig := hmacSHA256(s.key, "AWS4-HMAC-SHA256-PAYLOAD\n"+s.amzDate+"\n"+s.scope+"\n"+
		hex.EncodeToString(s.prev)+"\n"+emptySHA256Hex+"\n"+hex.EncodeToString(sum))
	s.prev = sig
	return hmac.Equal(sig, claimed)
}

// trailer checks the signature of the trailer, whose canonical form is
// "name:value\n" for each trailing header.
func (s *chunkSigner) trailer(canonical string, claimed []byte) bool {
	sum := sha256.Sum256([]byte(canonical))
	sig := hmacSHA256(s.key, "AWS4-HMAC-SHA256-TRAILER\n"+s.amzDate+"\n"+s.scope+"\n"+
		hex.EncodeToString(s.prev)+"\n"+hex.EncodeToString(sum[:]))
	return hmac.Equal(sig, claimed)
}

// chunkedReader decodes an aws-chunked payload as it is read, without ever
// holding a chunk: the data of a chunk is returned as it arrives and hashed
// on the way; the chunk's signature is checked when its last byte has been
// read, before anything after it is returned. So the bytes of a chunk whose
// signature is wrong have been returned by then: they are provisional, as
// everything is until Read returns io.EOF, which it does only after the
// final chunk, the trailer (signature and checksum), the end of the body and
// the decoded length all checked out.
//
// Memory is bounded: lines are at most chunkedMaxLine bytes, at most the two
// trailer lines a mode allows are kept, and a chunk size is a number of at
// most 16 hex digits.
type chunkedReader struct {
	br      *bufio.Reader
	signer  *chunkSigner       // nil: unsigned chunks
	trailer *checksumAlgorithm // nil: no trailer
	sum     hash.Hash          // the trailer's checksum of the payload
	length  int64              // the decoded length announced

	n       int64     // decoded bytes so far
	left    int64     // bytes left in the current chunk
	inChunk bool      // reading a chunk's data (or its CRLF)
	claimed []byte    // the current chunk's signature
	data    hash.Hash // SHA-256 of the current chunk's data, when signed
	err     error     // sticky
}

// newChunkedReader decodes body. signer is nil for unsigned chunks, trailer
// nil when the payload has no checksum trailer; length is the decoded length
// announced, which the payload must have.
func newChunkedReader(body io.Reader, signer *chunkSigner, trailer *checksumAlgorithm, length int64) *chunkedReader {
	c := &chunkedReader{br: bufio.NewReaderSize(body, chunkedMaxLine), signer: signer, trailer: trailer, length: length}
	if signer != nil {
		c.data = sha256.New()
		c.claimed = make([]byte, sha256.Size)
	}
	if trailer != nil {
		c.sum = trailer.new()
	}
	return c
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for c.left == 0 {
		if c.inChunk {
			if err := c.endChunk(); err != nil {
				return 0, c.fail(err)
			}
		}
		last, err := c.header()
		if err != nil {
			return 0, c.fail(err)
		}
		if last {
			return 0, c.fail(c.finish())
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	c.n += int64(n)
	if c.data != nil {
		c.data.Write(p[:n])
	}
	if c.sum != nil {
		c.sum.Write(p[:n])
	}
	if err != nil {
		return n, c.fail(bodyError(err))
	}
	return n, nil
}

// fail makes err sticky.
func (c *chunkedReader) fail(err error) error {
	c.err = err
	return err
}

// bodyError maps an error of the underlying body: its end where more was
// due is an incomplete body; other errors (a timeout, a connection cut) are
// the caller's to see as they are.
func bodyError(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncatedPayload
	}
	return err
}

// line reads a line of at most chunkedMaxLine bytes and returns it without
// its end: CRLF, or (lenient, for trailers) a bare LF.
func (c *chunkedReader) line(lenient bool) ([]byte, error) {
	b, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, errInvalidChunk
	case err != nil:
		return nil, bodyError(err)
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	} else if !lenient {
		return nil, errInvalidChunk
	}
	return b, nil
}

// header reads a chunk header, SIZE or SIZE;chunk-signature=SIG, and reports
// whether it was the final, zero-length chunk's.
func (c *chunkedReader) header() (last bool, err error) {
	b, err := c.line(false)
	if err != nil {
		return false, err
	}
	size := b
	if c.signer != nil {
		i := bytes.IndexByte(b, ';')
		const ext = "chunk-signature="
		if i < 0 || !bytes.HasPrefix(b[i+1:], []byte(ext)) {
			return false, errInvalidChunk
		}
		sig := b[i+1+len(ext):]
		if len(sig) != 2*sha256.Size {
			return false, errInvalidChunk
		}
		if _, err := hex.Decode(c.claimed, sig); err != nil {
			return false, errInvalidChunk
		}
		size = b[:i]
	}
	// Strictly hex: no sign, prefix, underscore or space; at most 16
	// digits, and no more than fits an int64.
	if len(size) == 0 || len(size) > 16 {
		return false, errInvalidChunk
	}
	n, err := strconv.ParseUint(string(size), 16, 63)
	if err != nil {
		return false, errInvalidChunk
	}
	if int64(n) > c.length-c.n {
		return false, errInvalidChunk // more data than announced
	}
	if n == 0 {
		return true, nil
	}
	c.left, c.inChunk = int64(n), true
	return false, nil
}

// endChunk reads the CRLF after a chunk's data and checks its signature.
func (c *chunkedReader) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.br, crlf[:]); err != nil {
		return bodyError(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return errInvalidChunk
	}
	c.inChunk = false
	if c.signer != nil {
		if !c.signer.chunk(c.data.Sum(nil), c.claimed) {
			return errSignatureDoesNotMatch
		}
		c.data.Reset()
	}
	return nil
}

// finish checks what follows the final chunk's header: its signature, the
// trailer, the empty line that ends the payload and the end of the body;
// and the decoded length. It returns io.EOF when everything checked out.
func (c *chunkedReader) finish() error {
	if c.signer != nil && !c.signer.chunk(c.data.Sum(nil), c.claimed) {
		return errSignatureDoesNotMatch
	}
	if c.trailer != nil {
		if err := c.readTrailer(); err != nil {
			return err
		}
	} else {
		b, err := c.line(false)
		if err != nil {
			return err
		}
		if len(b) != 0 {
			return errInvalidChunk
		}
	}
	switch _, err := c.br.ReadByte(); {
	case err == nil:
		return errInvalidChunk // data after the end
	case err != io.EOF:
		return bodyError(err)
	}
	if c.n != c.length {
		return errTruncatedPayload
	}
	return io.EOF
}

// readTrailer reads the trailer up to the empty line that ends it: the
// checksum x-amz-trailer named, and for a signed payload its signature; and
// checks them.
func (c *chunkedReader) readTrailer() error {
	var value, sig string
	var haveValue, haveSig bool
	for {
		b, err := c.line(true)
		if err != nil {
			if err == errInvalidChunk {
				return errMalformedTrailer
			}
			return err
		}
		if len(b) == 0 {
			break
		}
		name, v, ok := bytes.Cut(b, []byte{':'})
		if !ok {
			return errMalformedTrailer
		}
		switch string(bytes.ToLower(bytes.TrimSpace(name))) {
		case c.trailer.name:
			if haveValue {
				return errMalformedTrailer
			}
			value, haveValue = string(bytes.TrimSpace(v)), true
		case "x-amz-trailer-signature":
			if haveSig || c.signer == nil {
				return errMalformedTrailer
			}
			sig, haveSig = string(bytes.TrimSpace(v)), true
		default:
			return errMalformedTrailer
		}
	}
	if !haveValue || (c.signer != nil && !haveSig) {
		return errMalformedTrailer
	}
	if c.signer != nil {
		claimed, err := hex.DecodeString(sig)
		if err != nil || len(claimed) != sha256.Size {
			return errMalformedTrailer
		}
		if !c.signer.trailer(c.trailer.name+":"+value+"\n", claimed) {
			return errSignatureDoesNotMatch
		}
	}
	want, err := c.trailer.decode(value)
	if err != nil {
		return err
	}
	if !bytes.Equal(c.sum.Sum(nil), want) {
		return errBadDigest
	}
	return nil
}
