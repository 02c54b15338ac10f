package gateway

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Requests in these tests are signed by the AWS SDK's own SigV4 signer, as
// the S3 client configures it (no second escaping of the path), and checked
// by verifyS3Request as the handler calls it.

const (
	sv4Region = "eu-west-1"
	sv4Host   = "127.0.0.1:8443"
	sv4Key    = "TTPACME0001"
)

var sv4Secret = DeriveS3Secret([]byte("a test credential secret"), sv4Key)

func sv4Lookup(ak string) (s3Credential, bool) {
	if ak != sv4Key {
		return s3Credential{}, false
	}
	return s3Credential{AccessKeyID: ak, Secret: sv4Secret, Tenant: "acme"}, true
}

// sv4Creds are the credentials a client signs with.
func sv4Creds(ak, secret string) aws.Credentials {
	return aws.Credentials{AccessKeyID: ak, SecretAccessKey: secret}
}

// sv4Request returns a request for target (a path with its query, escaped
// as the S3 client escapes keys) on sv4Host.
func sv4Request(method, target string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, "https://"+sv4Host+target, rd)
	r.Host = sv4Host
	return r
}

// sv4Sign signs r in its headers as the S3 client does.
func sv4Sign(t testing.TB, r *http.Request, payload string, creds aws.Credentials, region string, at time.Time) {
	t.Helper()
	if payload != "" {
		r.Header.Set("X-Amz-Content-Sha256", payload)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, r, payload, "s3", region, at); err != nil {
		t.Fatal(err)
	}
}

// sv4Presign presigns r for expires seconds (none when negative) and returns
// the request a client makes with the URL and the signed headers.
func sv4Presign(t testing.TB, r *http.Request, creds aws.Credentials, region string, at time.Time, expires int, body []byte) *http.Request {
	t.Helper()
	if expires >= 0 {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(expires))
		r.URL.RawQuery = q.Encode()
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	u, h, err := signer.PresignHTTP(context.Background(), creds, r, "UNSIGNED-PAYLOAD", "s3", region, at)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	out := sv4Request(r.Method, pu.RequestURI(), body)
	for k, v := range h {
		if !strings.EqualFold(k, "host") {
			out.Header[k] = v
		}
	}
	return out
}

// sv4Code is the S3 error code of err ("" for nil, "?" for no *s3Error).
func sv4Code(err error) string {
	var e *s3Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return "? " + err.Error()
}

// sv4Run verifies r at now, reads its body if it passes, and compares the
// outcome with what is wanted: the error codes of verifying and of reading,
// and the bytes read when both succeed.
func sv4Run(t *testing.T, r *http.Request, now time.Time, wantAuth, wantRead string, want []byte) *s3Auth {
	t.Helper()
	auth, err := verifyS3Request(r, sv4Lookup, sv4Region, now)
	if got := sv4Code(err); got != wantAuth {
		t.Fatalf("verify: got %q (%v), want %q", got, err, wantAuth)
	}
	if err != nil {
		if auth != nil {
			t.Errorf("verify failed but returned %+v", auth)
		}
		return nil
	}
	if auth.Cred.Tenant != "acme" || auth.Cred.AccessKeyID != sv4Key {
		t.Errorf("credential %v, want acme's", auth.Cred)
	}
	got, err := io.ReadAll(auth.Body)
	if code := sv4Code(err); code != wantRead {
		t.Fatalf("read: got %q (%v), want %q", code, err, wantRead)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Errorf("read %d bytes %.40q, want %d bytes %.40q", len(got), got, len(want), want)
	}
	if err != nil {
		// Sticky: the error stays, and never turns into io.EOF.
		if _, again := auth.Body.Read(make([]byte, 10)); sv4Code(again) != wantRead {
			t.Errorf("read after %v: %v", err, again)
		}
	}
	return auth
}

func sv4Random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sv4Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A key with a space, a plus, non-ASCII letters and parentheses, escaped as
// the S3 client escapes it (every byte but A-Z a-z 0-9 - . _ ~ and /).
const sv4OddKey = "/acme/upload/r%C3%A9sum%C3%A9%20%2B%20notes%20%281%29.age"

func TestSigV4HeaderAuth(t *testing.T) {
	body := sv4Random(100_000)
	tampered := bytes.Clone(body)
	tampered[5000] ^= 1
	list := "/acme?" + url.Values{"list-type": {"2"}, "prefix": {"outbox/a b"}, "delimiter": {"/"}, "encoding-type": {"url"}}.Encode()
	setHeader := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	tests := []struct {
		name           string
		method, target string
		body           []byte
		payload        string            // x-amz-content-sha256, signed
		headers        map[string]string // set before signing
		ak, secret     string            // default: acme's
		region         string            // default: sv4Region
		skew           time.Duration     // signing time minus now
		after          func(*http.Request)
		wantAuth       string
		wantRead       string
		want           []byte // default: body
	}{
		{name: "ListObjectsV2 with an encoded prefix", method: "GET", target: list, payload: payloadUnsigned},
		{name: "HEAD of a key with space, plus, unicode", method: "HEAD", target: "/acme/outbox/a%20b%2Bc%C3%A9%20%E2%82%AC.json", payload: emptySHA256Hex},
		{name: "GET with empty hash", method: "GET", target: "/acme/outbox/r.json", payload: emptySHA256Hex},
		{name: "PUT unsigned payload", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned},
		{name: "PUT signed payload", method: "PUT", target: sv4OddKey, body: body, payload: sv4Hex(body)},
		{name: "UploadPart signed payload", method: "PUT", target: sv4OddKey + "?partNumber=1&uploadId=0123456789abcdef0123456789abcdef", body: body, payload: sv4Hex(body)},
		{name: "CreateMultipartUpload", method: "POST", target: sv4OddKey + "?uploads", payload: emptySHA256Hex},
		{name: "signed payload, body tampered", method: "PUT", target: sv4OddKey, body: body, payload: sv4Hex(body),
			after: func(r *http.Request) { r.Body = io.NopCloser(bytes.NewReader(tampered)) }, wantRead: "XAmzContentSHA256Mismatch"},
		{name: "signed payload, body cut short", method: "PUT", target: sv4OddKey, body: body, payload: sv4Hex(body),
			after: func(r *http.Request) { r.Body = io.NopCloser(bytes.NewReader(body[:len(body)-1])) }, wantRead: "XAmzContentSHA256Mismatch"},
		{name: "metadata with runs of spaces", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned,
			headers: map[string]string{"X-Amz-Meta-Note": "a  b   c", "Content-Type": "application/octet-stream"},
			after:   setHeader("X-Amz-Meta-Note", " a b    c ")},
		{name: "skew 14 minutes ahead", method: "GET", target: list, payload: payloadUnsigned, skew: 14 * time.Minute},
		{name: "skew 14 minutes behind", method: "GET", target: list, payload: payloadUnsigned, skew: -14 * time.Minute},

		{name: "wrong secret", method: "GET", target: list, payload: payloadUnsigned, secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", wantAuth: "SignatureDoesNotMatch"},
		{name: "unknown access key", method: "GET", target: list, payload: payloadUnsigned, ak: "TTPNOSUCH01", wantAuth: "InvalidAccessKeyId"},
		{name: "skew 16 minutes ahead", method: "GET", target: list, payload: payloadUnsigned, skew: 16 * time.Minute, wantAuth: "RequestTimeTooSkewed"},
		{name: "skew 16 minutes behind", method: "GET", target: list, payload: payloadUnsigned, skew: -16 * time.Minute, wantAuth: "RequestTimeTooSkewed"},
		{name: "wrong region", method: "GET", target: list, payload: payloadUnsigned, region: "us-east-1", wantAuth: "AuthorizationHeaderMalformed"},
		{name: "host not signed", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "AuthorizationHeaderMalformed",
			after: func(r *http.Request) { sv4EditAuthz(r, "SignedHeaders=host;", "SignedHeaders=") }},
		{name: "x-amz-content-sha256 not signed", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "AuthorizationHeaderMalformed",
			after: func(r *http.Request) { sv4EditAuthz(r, ";x-amz-content-sha256", "") }},
		{name: "signed headers unsorted", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "AuthorizationHeaderMalformed",
			after: func(r *http.Request) {
				sv4EditAuthz(r, "host;x-amz-content-sha256;x-amz-date", "x-amz-content-sha256;host;x-amz-date")
			}},
		{name: "credential scope of another service", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "AuthorizationHeaderMalformed",
			after: func(r *http.Request) { sv4EditAuthz(r, "/s3/aws4_request", "/ec2/aws4_request") }},
		{name: "credential scope of another day", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "AuthorizationHeaderMalformed",
			after: func(r *http.Request) {
				d := r.Header.Get("X-Amz-Date")[:8]
				sv4EditAuthz(r, "/"+d+"/", "/20200101/")
			}},
		{name: "signature not hex", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "AuthorizationHeaderMalformed",
			after: func(r *http.Request) { sv4EditAuthz(r, "Signature=", "Signature=zz") }},
		{name: "unsigned x-amz header added", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned, wantAuth: "AccessDenied",
			after: setHeader("X-Amz-Meta-Added", "1")},
		{name: "unsigned checksum header added", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned, wantAuth: "AccessDenied",
			after: setHeader("X-Amz-Checksum-Crc32", "AAAAAA==")},
		{name: "query changed", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "outbox", "upload", 1) }},
		{name: "query parameter added", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) { r.URL.RawQuery += "&max-keys=1" }},
		{name: "path changed", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned, wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) {
				r.URL.Path = strings.Replace(r.URL.Path, "notes", "notez", 1)
				r.URL.RawPath = ""
			}},
		{name: "path decoded differently", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned, wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) { r.URL.Path = strings.Replace(r.URL.Path, "+", " ", 1); r.URL.RawPath = "" }},
		{name: "method changed", method: "GET", target: "/acme/outbox/r.json", payload: payloadUnsigned, wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) { r.Method = "DELETE" }},
		{name: "host changed", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) { r.Host = "127.0.0.1:8444" }},
		{name: "signed header changed", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned, wantAuth: "SignatureDoesNotMatch",
			headers: map[string]string{"Content-Type": "application/octet-stream"}, after: setHeader("Content-Type", "text/plain")},
		{name: "payload mode changed", method: "PUT", target: sv4OddKey, body: body, payload: sv4Hex(body), wantAuth: "SignatureDoesNotMatch",
			after: setHeader("X-Amz-Content-Sha256", payloadUnsigned)},
		{name: "date changed", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) {
				d, _ := time.Parse(sigv4TimeFormat, r.Header.Get("X-Amz-Date"))
				r.Header.Set("X-Amz-Date", d.Add(time.Second).Format(sigv4TimeFormat))
			}},
		{name: "anonymous", method: "GET", target: list, wantAuth: "AccessDenied",
			after: func(r *http.Request) { r.Header.Del("Authorization") }},
		{name: "signature version 2", method: "GET", target: list, wantAuth: "NotImplemented",
			after: setHeader("Authorization", "AWS TTPACME0001:frJIUN8DYpKDtOLCwo//yllqDzg=")},
		{name: "signature version 4A", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "NotImplemented",
			after: func(r *http.Request) { sv4EditAuthz(r, "AWS4-HMAC-SHA256 ", "AWS4-ECDSA-P256-SHA256 ") }},
		{name: "header and presigned", method: "GET", target: list + "&X-Amz-Algorithm=AWS4-HMAC-SHA256", payload: payloadUnsigned, wantAuth: "InvalidArgument"},
		{name: "no x-amz-content-sha256", method: "GET", target: list, wantAuth: "MissingSecurityHeader",
			after: func(r *http.Request) { sv4EditAuthz(r, "host;", "host;x-amz-content-sha256;") }},
		{name: "no date", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "AccessDenied",
			after: func(r *http.Request) { r.Header.Del("X-Amz-Date") }},
		{name: "malformed date", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "AccessDenied",
			after: setHeader("X-Amz-Date", "2026-01-01T00:00:00Z")},
		{name: "invalid x-amz-content-sha256", method: "GET", target: list, payload: "abc", wantAuth: "InvalidArgument"},
		{name: "ECDSA streaming payload", method: "PUT", target: sv4OddKey, payload: "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", wantAuth: "NotImplemented"},
		{name: "aws-chunked without streaming payload", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned,
			headers: map[string]string{"Content-Encoding": "aws-chunked"}, wantAuth: "InvalidArgument"},
		{name: "trailer without trailer payload", method: "PUT", target: sv4OddKey, body: body, payload: payloadUnsigned,
			headers: map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, wantAuth: "InvalidRequest"},
		{name: "session token", method: "GET", target: list, payload: payloadUnsigned, wantAuth: "InvalidToken",
			headers: map[string]string{"X-Amz-Security-Token": "token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			r := sv4Request(tt.method, tt.target, tt.body)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			ak, secret, region := cmp.Or(tt.ak, sv4Key), cmp.Or(tt.secret, sv4Secret), cmp.Or(tt.region, sv4Region)
			sv4Sign(t, r, tt.payload, sv4Creds(ak, secret), region, now.Add(tt.skew))
			if tt.after != nil {
				tt.after(r)
			}
			want := tt.want
			if want == nil {
				want = tt.body
			}
			if want == nil {
				want = []byte{}
			}
			auth := sv4Run(t, r, now, tt.wantAuth, tt.wantRead, want)
			if auth != nil {
				if auth.Presigned {
					t.Error("Presigned true for a signature in headers")
				}
				if wantLen := int64(len(tt.body)); auth.DecodedLength != wantLen && !(tt.body == nil && auth.DecodedLength <= 0) {
					t.Errorf("DecodedLength %d, want %d", auth.DecodedLength, wantLen)
				}
			}
		})
	}
}

// sv4EditAuthz replaces old by new in the Authorization header.
func sv4EditAuthz(r *http.Request, old, new string) {
	a := r.Header.Get("Authorization")
	if !strings.Contains(a, old) {
		panic("authorization " + a + " has no " + old)
	}
	r.Header.Set("Authorization", strings.Replace(a, old, new, 1))
}

// TestSigV4ChecksumHeader checks x-amz-checksum-* headers (computed here
// with the standard library) against plain payloads.
func TestSigV4ChecksumHeader(t *testing.T) {
	body := sv4Random(70_000)
	for _, a := range sv4Checksums {
		for _, wrong := range []bool{false, true} {
			t.Run(a.name+map[bool]string{false: "", true: "/wrong"}[wrong], func(t *testing.T) {
				now := time.Now()
				sum := a.sum(body)
				if wrong {
					sum = a.sum(append(bytes.Clone(body), 0))
				}
				r := sv4Request("PUT", sv4OddKey, body)
				r.Header.Set(a.name, sum)
				sv4Sign(t, r, payloadUnsigned, sv4Creds(sv4Key, sv4Secret), sv4Region, now)
				wantRead := ""
				if wrong {
					wantRead = "BadDigest"
				}
				sv4Run(t, r, now, "", wantRead, body)
			})
		}
	}
	t.Run("two checksums", func(t *testing.T) {
		now := time.Now()
		r := sv4Request("PUT", sv4OddKey, body)
		r.Header.Set(sv4Checksums[0].name, sv4Checksums[0].sum(body))
		r.Header.Set(sv4Checksums[1].name, sv4Checksums[1].sum(body))
		sv4Sign(t, r, payloadUnsigned, sv4Creds(sv4Key, sv4Secret), sv4Region, now)
		sv4Run(t, r, now, "InvalidRequest", "", nil)
	})
	t.Run("CompleteMultipartUpload", func(t *testing.T) {
		// Its checksum header is the whole object's, not the XML's.
		now := time.Now()
		xml := []byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`)
		r := sv4Request("POST", sv4OddKey+"?uploadId=0123456789abcdef0123456789abcdef", xml)
		r.Header.Set("X-Amz-Checksum-Crc32", sv4Checksums[0].sum(body))
		sv4Sign(t, r, sv4Hex(xml), sv4Creds(sv4Key, sv4Secret), sv4Region, now)
		sv4Run(t, r, now, "", "", xml)
	})
	t.Run("not base64", func(t *testing.T) {
		now := time.Now()
		r := sv4Request("PUT", sv4OddKey, body)
		r.Header.Set("X-Amz-Checksum-Crc32", "not base64!")
		sv4Sign(t, r, payloadUnsigned, sv4Creds(sv4Key, sv4Secret), sv4Region, now)
		sv4Run(t, r, now, "InvalidRequest", "", nil)
	})
	t.Run("hash mismatch first", func(t *testing.T) {
		now := time.Now()
		r := sv4Request("PUT", sv4OddKey, body)
		r.Header.Set("X-Amz-Checksum-Sha256", sv4Checksums[4].sum(body[1:]))
		sv4Sign(t, r, sv4Hex(body[1:]), sv4Creds(sv4Key, sv4Secret), sv4Region, now)
		sv4Run(t, r, now, "", "XAmzContentSHA256Mismatch", nil)
	})
}

// sv4Checksums computes S3's checksums with the standard library only:
// base64 of the big-endian sum.
var sv4Checksums = []struct {
	name string
	sum  func([]byte) string
}{
	{"x-amz-checksum-crc32", func(b []byte) string {
		return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b)))
	}},
	{"x-amz-checksum-crc32c", func(b []byte) string {
		return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))))
	}},
	{"x-amz-checksum-crc64nvme", func(b []byte) string {
		return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, crc64.Checksum(b, crc64.MakeTable(0x9a6c9329ac4bc9b5))))
	}},
	{"x-amz-checksum-sha1", func(b []byte) string { s := sha1.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }},
	{"x-amz-checksum-sha256", func(b []byte) string { s := sha256.Sum256(b); return base64.StdEncoding.EncodeToString(s[:]) }},
}

// TestChunkedChecksumCheckValues pins the CRC-64/NVME parameters with the check
// value of the CRC catalogue: CRC("123456789") = 0xae8b14860a799888.
func TestChunkedChecksumCheckValues(t *testing.T) {
	h := checksumByName("x-amz-checksum-crc64nvme").new()
	h.Write([]byte("123456789"))
	if got := binary.BigEndian.Uint64(h.Sum(nil)); got != 0xae8b14860a799888 {
		t.Errorf("crc64nvme(123456789) = %#x, want 0xae8b14860a799888", got)
	}
	h = checksumByName("x-amz-checksum-crc32c").new()
	h.Write([]byte("123456789"))
	if got := binary.BigEndian.Uint32(h.Sum(nil)); got != 0xe3069283 {
		t.Errorf("crc32c(123456789) = %#x, want 0xe3069283", got)
	}
}

func TestSigV4Presigned(t *testing.T) {
	body := sv4Random(50_000)
	list := "/acme?" + url.Values{"list-type": {"2"}, "prefix": {"outbox/a b+c"}}.Encode()
	tests := []struct {
		name           string
		method, target string
		body           []byte
		headers        map[string]string
		ak, secret     string
		region         string
		skew           time.Duration // signing time minus now
		expires        int           // default 900; -1: none
		after          func(*http.Request)
		wantAuth       string
		wantMessage    string
	}{
		{name: "GET of a key with space, plus, unicode", method: "GET", target: "/acme/outbox/a%20b%2Bc%C3%A9.json"},
		{name: "HEAD", method: "HEAD", target: "/acme/outbox/r.json"},
		{name: "ListObjectsV2", method: "GET", target: list},
		{name: "PUT", method: "PUT", target: sv4OddKey, body: body},
		{name: "UploadPart", method: "PUT", target: sv4OddKey + "?partNumber=1&uploadId=0123456789abcdef0123456789abcdef", body: body},
		{name: "PUT with signed metadata", method: "PUT", target: sv4OddKey, body: body, headers: map[string]string{"Content-Type": "application/octet-stream"}},
		{name: "seven days", method: "GET", target: "/acme/outbox/r.json", expires: 604800, skew: -604700 * time.Second},
		{name: "starts within the skew", method: "GET", target: "/acme/outbox/r.json", skew: 14 * time.Minute},

		{name: "expired", method: "GET", target: "/acme/outbox/r.json", expires: 3600, skew: -3601 * time.Second, wantAuth: "AccessDenied", wantMessage: "Request has expired"},
		{name: "not valid yet", method: "GET", target: "/acme/outbox/r.json", skew: 16 * time.Minute, wantAuth: "AccessDenied", wantMessage: "Request is not valid yet"},
		{name: "longer than seven days", method: "GET", target: "/acme/outbox/r.json", expires: 604801, wantAuth: "AuthorizationQueryParametersError"},
		{name: "no expiry", method: "GET", target: "/acme/outbox/r.json", expires: -1, wantAuth: "AuthorizationQueryParametersError"},
		{name: "wrong secret", method: "GET", target: "/acme/outbox/r.json", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", wantAuth: "SignatureDoesNotMatch"},
		{name: "unknown access key", method: "GET", target: "/acme/outbox/r.json", ak: "TTPNOSUCH01", wantAuth: "InvalidAccessKeyId"},
		{name: "wrong region", method: "GET", target: "/acme/outbox/r.json", region: "us-east-1", wantAuth: "AuthorizationQueryParametersError"},
		{name: "signature changed", method: "GET", target: "/acme/outbox/r.json", wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) {
				sv4EditQuery(r, "X-Amz-Signature", func(s string) string { return strings.Repeat("0", 64) })
			}},
		{name: "expiry extended", method: "GET", target: "/acme/outbox/r.json", wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) { sv4EditQuery(r, "X-Amz-Expires", func(string) string { return "604800" }) }},
		{name: "key changed", method: "GET", target: "/acme/outbox/r.json", wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) { r.URL.Path = "/acme/outbox/s.json" }},
		{name: "prefix changed", method: "GET", target: list, wantAuth: "SignatureDoesNotMatch",
			after: func(r *http.Request) { sv4EditQuery(r, "prefix", func(string) string { return "outbox/a b c" }) }},
		{name: "host not signed", method: "GET", target: "/acme/outbox/r.json", wantAuth: "AuthorizationQueryParametersError",
			after: func(r *http.Request) {
				sv4EditQuery(r, "X-Amz-SignedHeaders", func(string) string { return "x-amz-date" })
			}},
		{name: "algorithm twice", method: "GET", target: "/acme/outbox/r.json", wantAuth: "AuthorizationQueryParametersError",
			after: func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Algorithm=AWS4-HMAC-SHA256" }},
		{name: "other algorithm", method: "GET", target: "/acme/outbox/r.json", wantAuth: "NotImplemented",
			after: func(r *http.Request) {
				sv4EditQuery(r, "X-Amz-Algorithm", func(string) string { return "AWS4-ECDSA-P256-SHA256" })
			}},
		{name: "unsigned x-amz header added", method: "PUT", target: sv4OddKey, body: body, wantAuth: "AccessDenied",
			after: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Added", "1") }},
		{name: "session token", method: "GET", target: "/acme/outbox/r.json", wantAuth: "InvalidToken",
			after: func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Security-Token=x" }},
		{name: "signature version 2", method: "GET", target: "/acme/outbox/r.json?AWSAccessKeyId=TTPACME0001&Expires=1900000000&Signature=x", wantAuth: "NotImplemented",
			after: func(r *http.Request) {
				r.URL.RawQuery = "AWSAccessKeyId=TTPACME0001&Expires=1900000000&Signature=x"
				r.Header = http.Header{}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			ak, secret, region, expires := cmp.Or(tt.ak, sv4Key), cmp.Or(tt.secret, sv4Secret), cmp.Or(tt.region, sv4Region), tt.expires
			if expires == 0 {
				expires = 900
			}
			r := sv4Request(tt.method, tt.target, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if tt.body != nil {
				r.ContentLength = int64(len(tt.body))
			}
			r = sv4Presign(t, r, sv4Creds(ak, secret), region, now.Add(tt.skew), expires, tt.body)
			if tt.after != nil {
				tt.after(r)
			}
			want := tt.body
			if want == nil {
				want = []byte{}
			}
			auth := sv4Run(t, r, now, tt.wantAuth, "", want)
			if auth != nil && !auth.Presigned {
				t.Error("Presigned false for a presigned URL")
			}
			if tt.wantMessage != "" {
				_, err := verifyS3Request(r, sv4Lookup, sv4Region, now)
				if e := (*s3Error)(nil); !errors.As(err, &e) || e.Message != tt.wantMessage {
					t.Errorf("error %v, want message %q", err, tt.wantMessage)
				}
			}
		})
	}
}

// TestSigV4DateHeader signs a request dated by its Date header (no
// x-amz-date), step by step as the specification says: the SDK always
// sends x-amz-date.
func TestSigV4DateHeader(t *testing.T) {
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	sign := func(at time.Time, signed string) *http.Request {
		at = at.UTC().Truncate(time.Second)
		r := sv4Request("GET", "/acme/outbox/r%2B1.json?x-id=GetObject", nil)
		r.Header.Set("Date", at.Format(http.TimeFormat))
		r.Header.Set("X-Amz-Content-Sha256", payloadUnsigned)
		canonical := "GET\n/acme/outbox/r%2B1.json\nx-id=GetObject\n" +
			"date:" + at.Format(http.TimeFormat) + "\nhost:" + sv4Host + "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\n" +
			"date;host;x-amz-content-sha256\nUNSIGNED-PAYLOAD"
		day := at.Format("20060102")
		key := mac(mac(mac(mac([]byte("AWS4"+sv4Secret), day), sv4Region), "s3"), "aws4_request")
		sum := sha256.Sum256([]byte(canonical))
		sig := mac(key, "AWS4-HMAC-SHA256\n"+at.Format("20060102T150405Z")+"\n"+day+"/"+sv4Region+"/s3/aws4_request\n"+hex.EncodeToString(sum[:]))
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+sv4Key+"/"+day+"/"+sv4Region+"/s3/aws4_request,SignedHeaders="+
			signed+",Signature="+hex.EncodeToString(sig))
		return r
	}
	now := time.Now()
	sv4Run(t, sign(now, "date;host;x-amz-content-sha256"), now, "", "", []byte{})
	sv4Run(t, sign(now.Add(-20*time.Minute), "date;host;x-amz-content-sha256"), now, "RequestTimeTooSkewed", "", nil)
	sv4Run(t, sign(now, "host;x-amz-content-sha256"), now, "AuthorizationHeaderMalformed", "", nil)
}

// sv4EditQuery changes the value of a query parameter (keeping the rest of
// the query as it is).
func sv4EditQuery(r *http.Request, name string, f func(string) string) {
	q := r.URL.Query()
	q.Set(name, f(q.Get(name)))
	r.URL.RawQuery = q.Encode()
}

// TestSigV4CanonicalRequest checks the canonical request against the
// example of the S3 documentation ("GET Object", sig-v4-header-based-auth),
// whose signature is published.
func TestSigV4CanonicalRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/test.txt", nil)
	r.Host = "examplebucket.s3.amazonaws.com"
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256Hex)
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	lookup := func(ak string) (s3Credential, bool) {
		return s3Credential{AccessKeyID: ak, Secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Tenant: "example"}, ak == "AKIAIOSFODNN7EXAMPLE"
	}
	now := time.Date(2013, 5, 24, 0, 5, 0, 0, time.UTC)
	if _, err := verifyS3Request(r, lookup, "us-east-1", now); err != nil {
		t.Fatalf("documented example: %v", err)
	}
	// The documented presigned example (sigv4-query-string-auth).
	r = httptest.NewRequest("GET", "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404", nil)
	r.Host = "examplebucket.s3.amazonaws.com"
	if _, err := verifyS3Request(r, lookup, "us-east-1", now); err != nil {
		t.Fatalf("documented presigned example: %v", err)
	}
}

func TestS3CredDeriveSecret(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	// Step by step: HMAC-SHA256 under the credential secret of the label,
	// a NUL and the access key id; standard base64; 40 characters.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("ttpgate s3 secret v1"))
	m.Write([]byte{0})
	m.Write([]byte("TTPACME0001"))
	mac := m.Sum(nil)
	want := base64.StdEncoding.EncodeToString(mac)[:40]
	if got := DeriveS3Secret(secret, "TTPACME0001"); got != want {
		t.Errorf("DeriveS3Secret = %q, want %q", got, want)
	}
	// The vector itself, so that a change of the derivation (which would
	// change every tenant's key) cannot pass unnoticed.
	const vector = "8R59YOJt28qIWZLS3JX6FbTdOeQLb1wCKhXtlHGB"
	if want != vector {
		t.Errorf("known answer %q, want %q", want, vector)
	}
	if a, b := DeriveS3Secret(secret, "TTPZON00001"), DeriveS3Secret([]byte("other"), "TTPACME0001"); a == want || b == want || len(a) != 40 {
		t.Errorf("secrets not distinct per key and per credential secret: %q %q %q", want, a, b)
	}
}

func TestS3CredRedacted(t *testing.T) {
	c := s3Credential{AccessKeyID: "TTPACME0001", Secret: "very-secret-value", Tenant: "acme"}
	var buf bytes.Buffer
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c), c.LogValue().String()} {
		buf.WriteString(s)
	}
	if strings.Contains(buf.String(), "very-secret-value") || !strings.Contains(buf.String(), "TTPACME0001") {
		t.Errorf("credential prints as %q", buf.String())
	}
}
