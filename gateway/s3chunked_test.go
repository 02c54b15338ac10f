package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// sv4Chunked is an aws-chunked payload before encoding, so that tests can
// tamper with its parts.
type sv4Chunked struct {
	chunks  [][]byte
	sigs    [][]byte // the signatures of chunks and of the final chunk; nil when unsigned
	trailer []string // trailer lines, without their CRLF
}

func (c *sv4Chunked) encode() []byte {
	var b bytes.Buffer
	for i, ch := range append(c.chunks, nil) {
		fmt.Fprintf(&b, "%x", len(ch))
		if c.sigs != nil {
			fmt.Fprintf(&b, ";chunk-signature=%x", c.sigs[i])
		}
		b.WriteString("\r\n")
		if len(ch) > 0 {
			b.Write(ch)
			b.WriteString("\r\n")
		}
	}
	for _, l := range c.trailer {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// sv4Stream describes a streaming upload to build.
type sv4Stream struct {
	data     []byte
	chunk    int    // chunk size
	mode     string // x-amz-content-sha256
	trailer  string // checksum trailer name, for the trailer modes
	checksum string // trailer value instead of the right one
	decoded  string // x-amz-decoded-content-length instead of the right one; "-" for none
}

// sv4Streaming returns a PUT of s.data as an aws-chunked payload: the
// request signed by the SDK's signer, the chunk signatures made by the SDK's
// stream signer (which chains them from the request's signature, as S3
// defines), the trailer signature computed here from the specification.
func sv4Streaming(t testing.TB, s sv4Stream, now time.Time) (*http.Request, *sv4Chunked) {
	t.Helper()
	c := &sv4Chunked{}
	for rest := s.data; len(rest) > 0; {
		n := min(s.chunk, len(rest))
		c.chunks = append(c.chunks, rest[:n])
		rest = rest[n:]
	}
	signed := s.mode != payloadStreamingUnsignedTrailer
	if signed {
		c.sigs = make([][]byte, len(c.chunks)+1)
		for i := range c.sigs {
			c.sigs[i] = make([]byte, 32)
		}
	}
	if s.trailer != "" {
		value := s.checksum
		if value == "" {
			for _, a := range sv4Checksums {
				if a.name == s.trailer {
					value = a.sum(s.data)
				}
			}
		}
		c.trailer = []string{s.trailer + ":" + value}
		if signed {
			c.trailer = append(c.trailer, "x-amz-trailer-signature:"+strings.Repeat("0", 64))
		}
	}
	length := len(c.encode()) // signatures do not change it

	r := sv4Request("PUT", sv4OddKey, nil)
	r.ContentLength = int64(length)
	r.Header.Set("Content-Encoding", "aws-chunked")
	switch s.decoded {
	case "":
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(s.data)))
	case "-":
	default:
		r.Header.Set("X-Amz-Decoded-Content-Length", s.decoded)
	}
	if s.trailer != "" {
		r.Header.Set("X-Amz-Trailer", s.trailer)
	}
	sv4Sign(t, r, s.mode, sv4Creds(sv4Key, sv4Secret), sv4Region, now)

	if signed {
		_, seedHex, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
		seed, err := hex.DecodeString(seedHex)
		if err != nil {
			t.Fatal(err)
		}
		ss := v4.NewStreamSigner(sv4Creds(sv4Key, sv4Secret), "s3", sv4Region, seed)
		for i, ch := range append(c.chunks, []byte{}) {
			if c.sigs[i], err = ss.GetSignature(context.Background(), nil, ch, now); err != nil {
				t.Fatal(err)
			}
		}
		if s.trailer != "" {
			c.trailer[1] = "x-amz-trailer-signature:" + sv4TrailerSignature(now, c.sigs[len(c.sigs)-1], c.trailer[0]+"\n")
		}
	}
	sv4SetBody(r, c.encode())
	return r, c
}

// sv4TrailerSignature signs a trailer as the specification says, with
// acme's secret, step by step.
func sv4TrailerSignature(at time.Time, prev []byte, canonical string) string {
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	at = at.UTC()
	day := at.Format("20060102")
	key := mac(mac(mac(mac([]byte("AWS4"+sv4Secret), day), sv4Region), "s3"), "aws4_request")
	sum := sha256.Sum256([]byte(canonical))
	return hex.EncodeToString(mac(key, "AWS4-HMAC-SHA256-TRAILER\n"+at.Format("20060102T150405Z")+"\n"+
		day+"/"+sv4Region+"/s3/aws4_request\n"+hex.EncodeToString(prev)+"\n"+hex.EncodeToString(sum[:])))
}

// sv4SetBody replaces the body, keeping the signed Content-Length.
func sv4SetBody(r *http.Request, b []byte) { r.Body = io.NopCloser(bytes.NewReader(b)) }

// chunkedEncoded sets the request's body to c, encoded after f changed it.
func chunkedEncoded(f func(c *sv4Chunked)) func(*http.Request, *sv4Chunked) {
	return func(r *http.Request, c *sv4Chunked) { f(c); sv4SetBody(r, c.encode()) }
}

// chunkedRaw sets the request's body to c's encoding as f changed it.
func chunkedRaw(f func([]byte) []byte) func(*http.Request, *sv4Chunked) {
	return func(r *http.Request, c *sv4Chunked) { sv4SetBody(r, f(c.encode())) }
}

func TestChunkedSigned(t *testing.T) {
	const K = 64 << 10
	data := sv4Random(3*K + 123)
	encode, raw := chunkedEncoded, chunkedRaw
	tests := []struct {
		name     string
		data     []byte
		chunk    int
		decoded  string
		after    func(*http.Request, *sv4Chunked)
		wantAuth string
		wantRead string
	}{
		{name: "empty", data: []byte{}, chunk: K},
		{name: "one byte", data: data[:1], chunk: K},
		{name: "one full chunk", data: data[:K], chunk: K},
		{name: "chunks of 64 KiB and a short one", data: data, chunk: K},
		{name: "small chunks", data: data[:1000], chunk: 100},
		{name: "chunk byte tampered", data: data, chunk: K, wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) { c.chunks[1] = bytes.Clone(c.chunks[1]); c.chunks[1][77] ^= 0x20 })},
		{name: "last byte of the last chunk tampered", data: data, chunk: K, wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) { c.chunks[3] = append(bytes.Clone(c.chunks[3][:122]), c.chunks[3][122]^1) })},
		{name: "chunks reordered", data: data, chunk: K, wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) {
				c.chunks[0], c.chunks[1] = c.chunks[1], c.chunks[0]
				c.sigs[0], c.sigs[1] = c.sigs[1], c.sigs[0]
			})},
		{name: "chunk dropped", data: data, chunk: K, decoded: strconv.Itoa(2*K + 123), wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) {
				c.chunks = append(c.chunks[:1], c.chunks[2:]...)
				c.sigs = append(c.sigs[:1], c.sigs[2:]...)
			})},
		{name: "chunk signature of another request", data: data, chunk: K, wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) { c.sigs[0][0] ^= 1 })},
		{name: "final chunk signature wrong", data: data, chunk: K, wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) { c.sigs[4][31] ^= 1 })},
		{name: "final chunk missing", data: data[:1000], chunk: 100, wantRead: "IncompleteBody",
			after: raw(func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("0;chunk"))] })},
		{name: "data after the end", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte { return append(b, 'x') })},
		{name: "trailer not announced", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: encode(func(c *sv4Chunked) { c.trailer = []string{"x-amz-checksum-crc32:AAAAAA=="} })},
		{name: "decoded length larger", data: data[:1000], chunk: 100, decoded: "1001", wantRead: "IncompleteBody"},
		{name: "decoded length smaller", data: data[:1000], chunk: 100, decoded: "999", wantRead: "InvalidRequest"},
		{name: "no decoded length", data: data[:1000], chunk: 100, decoded: "-", wantAuth: "MissingContentLength"},
		{name: "decoded length not a number", data: data[:1000], chunk: 100, decoded: "0x10", wantAuth: "InvalidArgument"},
		{name: "bare LF after a chunk header", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte { return bytes.Replace(b, []byte("\r\n"), []byte("\n"), 1) })},
		{name: "no CRLF after chunk data", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte {
				i := bytes.Index(b, []byte("\r\n")) + 2 + 100
				return append(bytes.Clone(b[:i]), b[i+2:]...)
			})},
		{name: "size with a sign", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte { return append([]byte("+"), b...) })},
		{name: "size with 0x", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte { return append([]byte("0x"), b...) })},
		{name: "size with a space", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte { return append([]byte(" "), b...) })},
		{name: "no chunk signature", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte { return bytes.Replace(b, []byte(";chunk-signature="), []byte(";chunk-sig="), 1) })},
		{name: "huge chunk size", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte { return append([]byte("fffffff"), b[2:]...) })},
		{name: "overlong chunk size", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte { return append([]byte("00000000000000064"), b[2:]...) })},
		{name: "chunk line too long", data: data[:1000], chunk: 100, wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte {
				i := bytes.IndexByte(b, '\r')
				return append(append(bytes.Clone(b[:i]), bytes.Repeat([]byte{'0'}, chunkedMaxLine)...), b[i:]...)
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			r, c := sv4Streaming(t, sv4Stream{data: tt.data, chunk: tt.chunk, mode: payloadStreamingSigned, decoded: tt.decoded}, now)
			if tt.after != nil {
				tt.after(r, c)
			}
			if auth := sv4Run(t, r, now, tt.wantAuth, tt.wantRead, tt.data); auth != nil && tt.decoded == "" && auth.DecodedLength != int64(len(tt.data)) {
				t.Errorf("DecodedLength %d, want %d", auth.DecodedLength, len(tt.data))
			}
		})
	}
}

// TestChunkedTruncated cuts streams of every mode at every length short of
// the whole: reading must end in an error, never in io.EOF.
func TestChunkedTruncated(t *testing.T) {
	data := sv4Random(300)
	for _, s := range []sv4Stream{
		{mode: payloadStreamingSigned},
		{mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"},
		{mode: payloadStreamingSignedTrailer, trailer: "x-amz-checksum-sha256"},
	} {
		t.Run(s.mode, func(t *testing.T) {
			now := time.Now()
			s.data, s.chunk = data, 128
			r, c := sv4Streaming(t, s, now)
			full := c.encode()
			for n := range len(full) {
				r.Body = io.NopCloser(bytes.NewReader(full[:n]))
				auth, err := verifyS3Request(r, sv4Lookup, sv4Region, now)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(auth.Body)
				if err == nil {
					t.Fatalf("cut at %d of %d: read %d bytes and io.EOF", n, len(full), len(got))
				}
				if !bytes.HasPrefix(data, got) {
					t.Fatalf("cut at %d: read bytes that are not the payload's: %q", n, got)
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(full))
			sv4Run(t, r, now, "", "", data)
		})
	}
}

func TestChunkedTrailer(t *testing.T) {
	data := sv4Random(200_000)
	for _, mode := range []string{payloadStreamingUnsignedTrailer, payloadStreamingSignedTrailer} {
		for _, a := range sv4Checksums {
			t.Run(mode+"/"+a.name, func(t *testing.T) {
				now := time.Now()
				r, _ := sv4Streaming(t, sv4Stream{data: data, chunk: 64 << 10, mode: mode, trailer: a.name}, now)
				sv4Run(t, r, now, "", "", data)
			})
			t.Run(mode+"/"+a.name+"/wrong", func(t *testing.T) {
				now := time.Now()
				wrong := a.sum(data[1:])
				r, _ := sv4Streaming(t, sv4Stream{data: data, chunk: 64 << 10, mode: mode, trailer: a.name, checksum: wrong}, now)
				sv4Run(t, r, now, "", "BadDigest", nil)
			})
		}
	}

	// One chunk of the whole payload, as the SDK sends a body of known length.
	t.Run("one chunk of everything", func(t *testing.T) {
		now := time.Now()
		r, _ := sv4Streaming(t, sv4Stream{data: data, chunk: len(data), mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc64nvme"}, now)
		sv4Run(t, r, now, "", "", data)
	})

	small := data[:500]
	encode, raw := chunkedEncoded, chunkedRaw
	tests := []struct {
		name     string
		mode     string
		trailer  string
		checksum string
		header   map[string]string // changes to the headers before signing
		after    func(*http.Request, *sv4Chunked)
		wantAuth string
		wantRead string
	}{
		{name: "LF line ends in the trailer", mode: payloadStreamingSignedTrailer, trailer: "x-amz-checksum-crc32c",
			after: raw(func(b []byte) []byte {
				i := bytes.Index(b, []byte("x-amz-checksum"))
				return append(bytes.Clone(b[:i]), bytes.ReplaceAll(b[i:], []byte("\r\n"), []byte("\n"))...)
			})},
		{name: "trailer signature wrong", mode: payloadStreamingSignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) { c.trailer[1] = "x-amz-trailer-signature:" + strings.Repeat("ab", 32) })},
		{name: "trailer value changed", mode: payloadStreamingSignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) { c.trailer[0] = "x-amz-checksum-crc32:AAAAAA==" })},
		{name: "signed wrong checksum", mode: payloadStreamingSignedTrailer, trailer: "x-amz-checksum-crc32", checksum: "AAAAAA==", wantRead: "BadDigest"},
		{name: "trailer signature missing", mode: payloadStreamingSignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "MalformedTrailerError",
			after: encode(func(c *sv4Chunked) { c.trailer = c.trailer[:1] })},
		{name: "chunk tampered", mode: payloadStreamingSignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "SignatureDoesNotMatch",
			after: encode(func(c *sv4Chunked) { c.chunks[2] = bytes.Clone(c.chunks[2]); c.chunks[2][0] ^= 1 })},
		{name: "trailer missing", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "MalformedTrailerError",
			after: encode(func(c *sv4Chunked) { c.trailer = nil })},
		{name: "other trailer than announced", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "MalformedTrailerError",
			after: encode(func(c *sv4Chunked) { c.trailer = []string{"x-amz-checksum-sha1:" + sv4Checksums[3].sum(small)} })},
		{name: "trailer twice", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "MalformedTrailerError",
			after: encode(func(c *sv4Chunked) { c.trailer = append(c.trailer, c.trailer[0]) })},
		{name: "trailer signature on unsigned", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "MalformedTrailerError",
			after: encode(func(c *sv4Chunked) { c.trailer = append(c.trailer, "x-amz-trailer-signature:"+strings.Repeat("0", 64)) })},
		{name: "trailer not base64", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", checksum: "AAAA!A==", wantRead: "InvalidRequest"},
		{name: "trailer of the wrong size", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", checksum: sv4Checksums[1].sum(small) + "AA", wantRead: "InvalidRequest"},
		{name: "no empty line at the end", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "IncompleteBody",
			after: raw(func(b []byte) []byte { return b[:len(b)-2] })},
		{name: "chunk signature in unsigned chunks", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "InvalidRequest",
			after: raw(func(b []byte) []byte {
				return bytes.Replace(b, []byte("\r\n"), []byte(";chunk-signature="+strings.Repeat("0", 64)+"\r\n"), 1)
			})},
		{name: "no x-amz-trailer", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantAuth: "InvalidRequest",
			header: map[string]string{"X-Amz-Trailer": ""}},
		{name: "unknown trailer", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantAuth: "InvalidRequest",
			header: map[string]string{"X-Amz-Trailer": "x-amz-checksum-md5"}},
		{name: "checksum header and trailer", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32",
			header: map[string]string{"X-Amz-Checksum-Sha1": sv4Checksums[3].sum(small)}},
		{name: "wrong checksum header and trailer", mode: payloadStreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", wantRead: "BadDigest",
			header: map[string]string{"X-Amz-Checksum-Sha1": sv4Checksums[3].sum(small[1:])}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			r, c := sv4Streaming(t, sv4Stream{data: small, chunk: 100, mode: tt.mode, trailer: tt.trailer, checksum: tt.checksum}, now)
			if tt.header != nil {
				// Sign again with the changed headers.
				r.Header.Del("Authorization")
				for k, v := range tt.header {
					if v == "" {
						r.Header.Del(k)
					} else {
						r.Header.Set(k, v)
					}
				}
				sv4Sign(t, r, tt.mode, sv4Creds(sv4Key, sv4Secret), sv4Region, now)
				if tt.mode == payloadStreamingSignedTrailer {
					t.Fatal("re-signing would need new chunk signatures")
				}
			}
			if tt.after != nil {
				tt.after(r, c)
			}
			sv4Run(t, r, now, tt.wantAuth, tt.wantRead, small)
		})
	}
}

// TestChunkedSDKClient sends uploads with the SDK's S3 client as it is
// configured by default (trailing checksums: STREAMING-UNSIGNED-PAYLOAD-
// TRAILER over HTTPS) with every checksum algorithm, and other requests and
// presigned URLs, to a server that verifies them as the handler does.
func TestChunkedSDKClient(t *testing.T) {
	var mu sync.Mutex
	type seen struct {
		payload, trailer string
		data             []byte
		err              error
	}
	var last seen
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{payload: r.Header.Get("X-Amz-Content-Sha256"), trailer: r.Header.Get("X-Amz-Trailer")}
		auth, err := verifyS3Request(r, sv4Lookup, sv4Region, time.Now())
		if err == nil {
			s.data, err = io.ReadAll(auth.Body)
		}
		s.err = err
		mu.Lock()
		last = s
		mu.Unlock()
		var e *s3Error
		if errors.As(err, &e) {
			w.WriteHeader(e.Status)
			fmt.Fprintf(w, "<Error><Code>%s</Code></Error>", e.Code)
			return
		}
		if err != nil {
			w.WriteHeader(500)
			return
		}
		if r.Method == "GET" && r.URL.Query().Get("list-type") == "2" {
			w.Header().Set("Content-Type", "application/xml")
			io.WriteString(w, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>acme</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
			return
		}
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	}))
	defer srv.Close()
	client := func(ak, secret string) *s3.Client {
		return s3.New(s3.Options{BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, Region: sv4Region,
			Credentials: credentials.NewStaticCredentialsProvider(ak, secret, ""), HTTPClient: srv.Client()})
	}
	c := client(sv4Key, sv4Secret)
	check := func(t *testing.T, wantPayload string, want []byte) seen {
		t.Helper()
		mu.Lock()
		s := last
		mu.Unlock()
		if s.err != nil {
			t.Fatalf("server: %v", s.err)
		}
		if wantPayload != "" && s.payload != wantPayload {
			t.Errorf("x-amz-content-sha256 %q, want %q", s.payload, wantPayload)
		}
		if !bytes.Equal(s.data, want) {
			t.Errorf("server read %d bytes %.40q, want %d bytes", len(s.data), s.data, len(want))
		}
		return s
	}
	data := sv4Random(300_000)
	key := "upload/résumé + notes (1).age"
	for _, alg := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
		types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		t.Run("PutObject "+string(alg), func(t *testing.T) {
			_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String(key),
				Body: bytes.NewReader(data), ChecksumAlgorithm: alg})
			if err != nil {
				t.Fatal(err)
			}
			// Without an algorithm this SDK sends no checksum.
			wantPayload := payloadStreamingUnsignedTrailer
			if alg == "" {
				wantPayload = payloadUnsigned
			}
			s := check(t, wantPayload, data)
			if want := "x-amz-checksum-" + strings.ToLower(string(alg)); alg != "" && s.trailer != want {
				t.Errorf("trailer %q, want %q", s.trailer, want)
			}
		})
	}
	t.Run("UploadPart", func(t *testing.T) {
		_, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String("acme"), Key: aws.String(key),
			UploadId: aws.String("0123456789abcdef0123456789abcdef"), PartNumber: aws.Int32(1), Body: bytes.NewReader(data),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
		if err != nil {
			t.Fatal(err)
		}
		check(t, payloadStreamingUnsignedTrailer, data)
	})
	t.Run("ListObjectsV2", func(t *testing.T) {
		_, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("acme"), Prefix: aws.String("outbox/a b+c/é")})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "", []byte{})
	})
	t.Run("HeadObject", func(t *testing.T) {
		if _, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/a b+c é.json")}); err != nil {
			t.Fatal(err)
		}
		check(t, "", []byte{})
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, err := client(sv4Key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").HeadObject(t.Context(),
			&s3.HeadObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/r.json")})
		mu.Lock()
		code := sv4Code(last.err)
		mu.Unlock()
		if err == nil || code != "SignatureDoesNotMatch" {
			t.Errorf("wrong secret: %v, server %q", err, code)
		}
	})
	pc := s3.NewPresignClient(c)
	t.Run("presigned PUT", func(t *testing.T) {
		p, err := pc.PresignPutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("acme"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(p.Method, p.URL, bytes.NewReader(data))
		for k, v := range p.SignedHeader {
			if !strings.EqualFold(k, "host") {
				req.Header[k] = v
			}
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check(t, "", data)
	})
	t.Run("presigned GET", func(t *testing.T) {
		p, err := pc.PresignGetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("acme"), Key: aws.String("outbox/a b+c é.json")},
			s3.WithPresignExpires(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Get(p.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check(t, "", []byte{})
	})
}

// TestChunkedBoundedMemory decodes a payload far larger than any buffer,
// in one chunk, and a chunk-size line that never ends: the decoder's
// allocations stay small whatever the input.
func TestChunkedBoundedMemory(t *testing.T) {
	const size = 64 << 20
	measure := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	end := "\r\n0\r\nx-amz-checksum-crc32:" + sv4Checksums[0].sum(make([]byte, size)) + "\r\n\r\n"
	alloc := measure(func() {
		body := io.MultiReader(strings.NewReader(strconv.FormatInt(size, 16)+"\r\n"), io.LimitReader(sv4Zeros{}, size),
			strings.NewReader(end))
		r := newChunkedReader(body, nil, checksumByName("x-amz-checksum-crc32"), size)
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, make([]byte, 32<<10))
		if err != nil || n != size {
			t.Errorf("decoded %d bytes, %v", n, err)
		}
	})
	if alloc > 256<<10 {
		t.Errorf("decoding %d bytes allocated %d bytes", size, alloc)
	}
	var read int64
	alloc = measure(func() {
		body := &sv4Counter{r: io.LimitReader(sv4Zeros{}, size), n: &read}
		r := newChunkedReader(body, nil, checksumByName("x-amz-checksum-crc32"), size)
		if _, err := io.Copy(io.Discard, r); sv4Code(err) != "InvalidRequest" {
			t.Errorf("endless chunk-size line: %v", err)
		}
	})
	if alloc > 256<<10 || read > 2*chunkedMaxLine {
		t.Errorf("an endless line: read %d bytes, allocated %d", read, alloc)
	}
}

type sv4Zeros struct{}

func (sv4Zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type sv4Counter struct {
	r io.Reader
	n *int64
}

func (c *sv4Counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// The fuzz target's fixed signing context.
var (
	fuzzChunkSecret  = "fuzz secret"
	fuzzChunkTime    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fuzzChunkSeedSig = bytes.Repeat([]byte{0x5e}, 32)
)

// fuzzChunkModes are the decoders the fuzz target runs: mode % len picks one.
var fuzzChunkModes = []struct {
	signed  bool
	trailer string
}{
	{false, "x-amz-checksum-crc32"},
	{true, ""},
	{true, "x-amz-checksum-sha256"},
	{false, "x-amz-checksum-crc64nvme"},
}

func fuzzChunkReader(mode uint8, length int64, data []byte) *chunkedReader {
	m := fuzzChunkModes[int(mode)%len(fuzzChunkModes)]
	var signer *chunkSigner
	if m.signed {
		signer = &chunkSigner{key: sigv4SigningKey(fuzzChunkSecret, fuzzChunkTime.Format(sigv4DateFormat), sv4Region),
			amzDate: fuzzChunkTime.Format(sigv4TimeFormat), scope: fuzzChunkTime.Format(sigv4DateFormat) + "/" + sv4Region + "/s3/aws4_request",
			prev: fuzzChunkSeedSig}
	}
	var trailer *checksumAlgorithm
	if m.trailer != "" {
		trailer = checksumByName(m.trailer)
	}
	return newChunkedReader(bytes.NewReader(data), signer, trailer, length)
}

// FuzzChunkedDecoder feeds arbitrary bytes to the aws-chunked decoder in
// every mode: it must never panic, end within one read per input byte (each
// read returns data or an error), return no more bytes than it was given,
// keep its error, and end in io.EOF only with exactly the announced length —
// which, for unsigned chunks, must be what a plain reference decoder finds:
// the framing never ends up in the data.
func FuzzChunkedDecoder(f *testing.F) {
	f.Add(uint8(0), int64(5), []byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"))
	f.Fuzz(func(t *testing.T, mode uint8, length int64, data []byte) {
		if length < 0 {
			length = -length
		}
		r := fuzzChunkReader(mode, length, data)
		var out []byte
		buf := make([]byte, 1+int(mode)%7*997)
		var err error
		for reads := 0; ; reads++ {
			if reads > len(data)+1 {
				t.Fatalf("%d reads of %d bytes and no end", reads, len(data))
			}
			var n int
			n, err = r.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				break
			}
			if n == 0 {
				t.Fatal("read returned nothing and no error")
			}
		}
		if len(out) > len(data) {
			t.Fatalf("decoded %d bytes from %d", len(out), len(data))
		}
		if _, again := r.Read(buf); again != err {
			t.Fatalf("error not sticky: %v, then %v", err, again)
		}
		if err != io.EOF {
			var e *s3Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is no *s3Error", err)
			}
			return
		}
		if int64(len(out)) != length {
			t.Fatalf("io.EOF after %d bytes, announced %d", len(out), length)
		}
		if m := fuzzChunkModes[int(mode)%len(fuzzChunkModes)]; !m.signed {
			want, ok := fuzzReferenceDecode(data)
			if !ok || !bytes.Equal(out, want) {
				t.Fatalf("decoded %q, the reference decoder %q (ok %v)", out, want, ok)
			}
		}
	})
}

// fuzzReferenceDecode is a plain decoder of unsigned aws-chunked framing
// (whole input in memory, no trailer checks): the data of the chunks.
func fuzzReferenceDecode(b []byte) ([]byte, bool) {
	var out []byte
	for {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			return nil, false
		}
		n, err := strconv.ParseUint(string(line), 16, 63)
		if err != nil || len(line) > 16 {
			return nil, false
		}
		if n == 0 {
			return out, true
		}
		if uint64(len(rest)) < n+2 || string(rest[n:n+2]) != "\r\n" {
			return nil, false
		}
		out = append(out, rest[:n]...)
		b = rest[n+2:]
	}
}

var updateChunkedSeeds = flag.Bool("update-chunked-seeds", false, "rewrite testdata/fuzz/FuzzChunkedDecoder")

// TestChunkedFuzzSeeds checks the fuzz target's seed corpus: it must exist,
// and its valid streams (signed ones among them) must decode, so that the
// fuzzer starts from the paths that succeed. With -update-chunked-seeds it
// writes the corpus.
func TestChunkedFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzChunkedDecoder")
	if *updateChunkedSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, s := range fuzzChunkSeeds(t) {
			content := fmt.Sprintf("go test fuzz v1\nuint8(%d)\nint64(%d)\n[]byte(%q)\n", s.mode, s.length, s.data)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < 10 {
		t.Fatalf("seed corpus %s: %d files, %v", dir, len(entries), err)
	}
	for name, s := range fuzzChunkSeeds(t) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("seed %s: %v (run with -update-chunked-seeds)", name, err)
			continue
		}
		if want := fmt.Sprintf("go test fuzz v1\nuint8(%d)\nint64(%d)\n[]byte(%q)\n", s.mode, s.length, s.data); string(b) != want {
			t.Errorf("seed %s is stale (run with -update-chunked-seeds)", name)
		}
		_, err = io.ReadAll(fuzzChunkReader(s.mode, s.length, s.data))
		if got := sv4Code(err); got != s.want {
			t.Errorf("seed %s: %q (%v), want %q", name, got, err, s.want)
		}
	}
}

type fuzzChunkSeed struct {
	mode   uint8
	length int64
	data   []byte
	want   string // error code of decoding it
}

// fuzzChunkSeeds builds the seed corpus: valid streams of every mode, signed
// with the fuzz target's fixed key by the SDK's stream signer, and broken
// ones.
func fuzzChunkSeeds(t testing.TB) map[string]fuzzChunkSeed {
	payload := []byte("age-encryption.org/v1\n-> X25519 seed\npayload bytes that span more than one chunk of 64 bytes, to be sure.\n")
	build := func(mode uint8, chunk int, data []byte) []byte {
		m := fuzzChunkModes[mode]
		c := &sv4Chunked{}
		for rest := data; len(rest) > 0; {
			n := min(chunk, len(rest))
			c.chunks = append(c.chunks, rest[:n])
			rest = rest[n:]
		}
		var prev []byte
		if m.signed {
			ss := v4.NewStreamSigner(aws.Credentials{SecretAccessKey: fuzzChunkSecret}, "s3", sv4Region, fuzzChunkSeedSig)
			for _, ch := range append(c.chunks, []byte{}) {
				sig, err := ss.GetSignature(context.Background(), nil, ch, fuzzChunkTime)
				if err != nil {
					t.Fatal(err)
				}
				c.sigs = append(c.sigs, sig)
			}
			prev = c.sigs[len(c.sigs)-1]
		}
		if m.trailer != "" {
			for _, a := range sv4Checksums {
				if a.name == m.trailer {
					c.trailer = []string{a.name + ":" + a.sum(data)}
				}
			}
			if m.signed {
				key := sigv4SigningKey(fuzzChunkSecret, fuzzChunkTime.Format(sigv4DateFormat), sv4Region)
				sum := sha256.Sum256([]byte(c.trailer[0] + "\n"))
				sig := hmacSHA256(key, "AWS4-HMAC-SHA256-TRAILER\n"+fuzzChunkTime.Format(sigv4TimeFormat)+"\n"+
					fuzzChunkTime.Format(sigv4DateFormat)+"/"+sv4Region+"/s3/aws4_request\n"+hex.EncodeToString(prev)+"\n"+hex.EncodeToString(sum[:]))
				c.trailer = append(c.trailer, "x-amz-trailer-signature:"+hex.EncodeToString(sig))
			}
		}
		return c.encode()
	}
	n := int64(len(payload))
	seeds := map[string]fuzzChunkSeed{}
	for mode := range uint8(len(fuzzChunkModes)) {
		name := []string{"unsigned-crc32", "signed", "signed-sha256", "unsigned-crc64nvme"}[mode]
		seeds[name] = fuzzChunkSeed{mode, n, build(mode, 64, payload), ""}
		seeds[name+"-empty"] = fuzzChunkSeed{mode, 0, build(mode, 64, nil), ""}
		seeds[name+"-small-chunks"] = fuzzChunkSeed{mode, n, build(mode, 7, payload), ""}
		cut := build(mode, 64, payload)
		seeds[name+"-cut"] = fuzzChunkSeed{mode, n, cut[:len(cut)*2/3], "IncompleteBody"}
	}
	flip := build(1, 64, payload)
	flip[bytes.Index(flip, []byte("payload"))] ^= 1
	seeds["signed-flipped"] = fuzzChunkSeed{1, n, flip, "SignatureDoesNotMatch"}
	seeds["unsigned-lf"] = fuzzChunkSeed{0, 5, []byte("5\nhello\n0\nx-amz-checksum-crc32:NhCmhg==\n\n"), "InvalidRequest"}
	seeds["unsigned-bad-digest"] = fuzzChunkSeed{0, 5, []byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), "BadDigest"}
	seeds["unsigned-huge-size"] = fuzzChunkSeed{0, 5, []byte("7fffffffffffffff\r\nhello\r\n0\r\n\r\n"), "InvalidRequest"}
	seeds["unsigned-extra"] = fuzzChunkSeed{0, 5, []byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\nmore"), "InvalidRequest"}
	return seeds
}
