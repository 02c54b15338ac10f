package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4 as S3 checks it, in the Authorization header or in
// a presigned URL, and the payload modes S3 clients send: see
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
// and the pages it links (header, query string, streaming, trailers).
//
// The canonical request is rebuilt from the request as it arrived, exactly as
// AWS defines it, and signed with the secret of the claimed access key; the
// signatures are compared in constant time. Nothing in a request that fails
// is used for anything but its error.

const (
	sigv4Algorithm  = "AWS4-HMAC-SHA256"
	sigv4TimeFormat = "20060102T150405Z"
	sigv4DateFormat = "20060102"
	sigv4Service    = "s3"
	sigv4Terminator = "aws4_request"
	// sigv4MaxSkew is how far the time of a request signed in its headers may
	// be from ours, and how far in the future a presigned URL may start.
	sigv4MaxSkew = 15 * time.Minute
	// sigv4MaxExpires is the longest validity of a presigned URL, in seconds
	// (seven days, as S3 allows).
	sigv4MaxExpires = 604800
)

// Values of x-amz-content-sha256 besides a hex SHA-256 of the payload.
const (
	payloadUnsigned                 = "UNSIGNED-PAYLOAD"
	payloadStreamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	payloadStreamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	payloadStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	payloadStreamingECDSA           = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	payloadStreamingECDSATrailer    = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
)

// s3Auth is an authenticated request: who signed it, and its payload.
type s3Auth struct {
	Cred      s3Credential
	Presigned bool
	// Body is the payload, decoded and verified as it is read: it returns
	// io.EOF only when every check passed (the payload hash, the chunk and
	// trailer signatures, the checksums, the decoded length). Until then the
	// bytes read are provisional: with an aws-chunked payload, a chunk's
	// bytes are returned before its signature (which follows them) is
	// checked, so a caller must commit what it read only after io.EOF. A
	// failed check is an *s3Error; an error of the underlying body (a
	// timeout, a connection cut) is returned as it is.
	Body io.Reader
	// DecodedLength is the payload length announced:
	// x-amz-decoded-content-length for an aws-chunked payload (required
	// there), else Content-Length; -1 if unknown.
	DecodedLength int64
}

// sigv4Claim is what a request says about its signature, parsed but not yet
// believed.
type sigv4Claim struct {
	presigned     bool
	malformed     *s3Error // the error for a malformed claim
	accessKeyID   string
	scope         string // DATE/REGION/s3/aws4_request
	scopeDate     string
	scopeRegion   string
	signedHeaders string   // as sent
	headers       []string // parsed from signedHeaders
	dateHeader    string   // header auth: the header that dates the request
	signature     []byte
	when          time.Time
	amzDate       string        // when, as the string to sign has it
	expires       time.Duration // presigned
	payload       string        // the last line of the canonical request
}

// verifyS3Request authenticates r with AWS Signature Version 4 — the
// Authorization header or a presigned URL — and returns who signed it, with
// a Body that decodes and verifies the payload as it is read. now is the
// current time; region the region clients must sign for.
//
// Payload modes (x-amz-content-sha256; for a presigned URL its
// X-Amz-Content-Sha256 parameter, else UNSIGNED-PAYLOAD):
//   - UNSIGNED-PAYLOAD: the body as it is.
//   - a hex SHA-256: Body returns XAmzContentSHA256Mismatch at the end if the
//     body does not hash to it.
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD: aws-chunked with a signature on
//     every chunk, chained from the request's signature.
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER and
//     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: aws-chunked, unsigned or
//     signed, ending with the checksum trailer x-amz-trailer names (and, when
//     signed, its signature).
//
// An x-amz-checksum-* header (crc32, crc32c, crc64nvme, sha1, sha256) is
// verified against the payload in every mode, except in
// CompleteMultipartUpload (POST with uploadId), where it is the checksum of
// the whole object. Content-MD5 is left to the caller.
func verifyS3Request(r *http.Request, lookup credentialLookup, region string, now time.Time) (*s3Auth, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errInvalidQuery
	}
	c, err := parseSigV4(r, query)
	if err != nil {
		return nil, err
	}
	if c.scopeRegion != region || c.scopeDate != c.when.Format(sigv4DateFormat) {
		return nil, c.malformed
	}
	if err := c.checkTime(now); err != nil {
		return nil, err
	}
	if err := c.checkSignedHeaders(r); err != nil {
		return nil, err
	}
	cred, ok := lookup(c.accessKeyID)
	if !ok {
		return nil, errInvalidAccessKeyID
	}
	key := sigv4SigningKey(cred.Secret, c.scopeDate, c.scopeRegion)
	canonical := sigv4CanonicalRequest(r, query, c)
	if !hmac.Equal(c.sign(key, canonical), c.signature) {
		return nil, errSignatureDoesNotMatch
	}
	body, length, err := c.payloadReader(r, query, key)
	if err != nil {
		return nil, err
	}
	return &s3Auth{Cred: cred, Presigned: c.presigned, Body: body, DecodedLength: length}, nil
}

// parseSigV4 finds how r is signed and parses the claim.
func parseSigV4(r *http.Request, query url.Values) (*sigv4Claim, error) {
	authz := r.Header.Values("Authorization")
	presigned := query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Credential") || query.Has("X-Amz-Signature")
	sigv2 := query.Has("AWSAccessKeyId") || (query.Has("Signature") && query.Has("Expires"))
	var c *sigv4Claim
	var err error
	switch {
	case len(authz) > 0 && (presigned || sigv2):
		return nil, errMultipleAuth
	case len(authz) > 0:
		c, err = parseAuthorization(r, authz)
	case presigned:
		c, err = parsePresigned(query)
	case sigv2:
		return nil, errUnsupportedAuthorization
	default:
		return nil, errAccessDenied
	}
	if err != nil {
		return nil, err
	}
	if query.Has("X-Amz-Security-Token") || len(r.Header.Values("X-Amz-Security-Token")) > 0 {
		return nil, errInvalidToken
	}
	if err := c.checkPayloadMode(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseAuthorization parses an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/s3/aws4_request, SignedHeaders=a;b, Signature=HEX
func parseAuthorization(r *http.Request, authz []string) (*sigv4Claim, error) {
	c := &sigv4Claim{malformed: errAuthorizationHeaderMalformed}
	if len(authz) != 1 {
		return nil, c.malformed
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(authz[0]), " ")
	if scheme != sigv4Algorithm {
		// Signature Version 2 ("AWS KEY:SIG"), Version 4A, or anything else.
		return nil, errUnsupportedAuthorization
	}
	var cred, signed, sig string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		var dst *string
		switch k {
		case "Credential":
			dst = &cred
		case "SignedHeaders":
			dst = &signed
		case "Signature":
			dst = &sig
		}
		if !ok || dst == nil || *dst != "" || v == "" {
			return nil, c.malformed
		}
		*dst = v
	}
	if cred == "" || signed == "" || sig == "" {
		return nil, c.malformed
	}
	if err := c.parseFields(cred, signed, sig); err != nil {
		return nil, err
	}

	// The time: x-amz-date, else Date.
	if v := r.Header.Values("X-Amz-Date"); len(v) > 0 {
		t, ok := parseAmzDate(v[0])
		if len(v) != 1 || !ok {
			return nil, errMissingDate
		}
		c.when, c.dateHeader = t, "x-amz-date"
	} else if v := r.Header.Values("Date"); len(v) == 1 {
		t, err := http.ParseTime(v[0])
		if err != nil {
			return nil, errMissingDate
		}
		c.when, c.dateHeader = t.UTC(), "date"
	} else {
		return nil, errMissingDate
	}
	c.amzDate = c.when.Format(sigv4TimeFormat)

	payload := r.Header.Values("X-Amz-Content-Sha256")
	switch len(payload) {
	case 0:
		return nil, errMissingSecurityHeader
	case 1:
		c.payload = payload[0]
	default:
		return nil, errInvalidContentSHA256
	}
	return c, nil
}

// parsePresigned parses the query parameters of a presigned URL.
func parsePresigned(query url.Values) (*sigv4Claim, error) {
	c := &sigv4Claim{presigned: true, malformed: errAuthorizationQueryParametersError}
	one := func(name string) string {
		if v := query[name]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	alg, cred, signed, sig := one("X-Amz-Algorithm"), one("X-Amz-Credential"), one("X-Amz-SignedHeaders"), one("X-Amz-Signature")
	date, expires := one("X-Amz-Date"), one("X-Amz-Expires")
	if alg == "" || cred == "" || signed == "" || sig == "" || date == "" || expires == "" {
		return nil, c.malformed
	}
	if alg != sigv4Algorithm {
		return nil, errUnsupportedAuthorization
	}
	if err := c.parseFields(cred, signed, sig); err != nil {
		return nil, err
	}
	t, ok := parseAmzDate(date)
	if !ok {
		return nil, c.malformed
	}
	c.when, c.amzDate = t, date
	secs, ok := parseDecimal(expires)
	if !ok || secs > sigv4MaxExpires {
		return nil, c.malformed
	}
	c.expires = time.Duration(secs) * time.Second
	c.payload = payloadUnsigned
	if v, ok := query["X-Amz-Content-Sha256"]; ok {
		if len(v) != 1 {
			return nil, errInvalidContentSHA256
		}
		c.payload = v[0]
	}
	return c, nil
}

// parseFields parses the credential, the signed headers and the signature,
// which both forms share.
func (c *sigv4Claim) parseFields(cred, signed, sig string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" || parts[3] != sigv4Service || parts[4] != sigv4Terminator {
		return c.malformed
	}
	if _, err := time.Parse(sigv4DateFormat, parts[1]); err != nil || len(parts[1]) != len(sigv4DateFormat) {
		return c.malformed
	}
	c.accessKeyID, c.scopeDate, c.scopeRegion = parts[0], parts[1], parts[2]
	c.scope = strings.Join(parts[1:], "/")

	c.signedHeaders = signed
	c.headers = strings.Split(signed, ";")
	for i, h := range c.headers {
		if !isLowerToken(h) || (i > 0 && h <= c.headers[i-1]) {
			return c.malformed // not a lowercase name, or not sorted, or twice
		}
	}

	if len(sig) != 2*sha256.Size {
		return c.malformed
	}
	s, err := hex.DecodeString(sig)
	if err != nil {
		return c.malformed
	}
	c.signature = s
	return nil
}

// checkPayloadMode refuses an x-amz-content-sha256 that is none of the
// modes S3 defines, and the modes this endpoint does not implement.
func (c *sigv4Claim) checkPayloadMode() error {
	switch c.payload {
	case payloadUnsigned, payloadStreamingSigned, payloadStreamingSignedTrailer, payloadStreamingUnsignedTrailer:
		return nil
	case payloadStreamingECDSA, payloadStreamingECDSATrailer:
		return errNotImplemented
	}
	if _, ok := parseHexSHA256(c.payload); !ok {
		return errInvalidContentSHA256
	}
	return nil
}

// checkTime checks the time of the request against now: within the allowed
// skew for a signature in headers; started (give or take the skew) and not
// expired for a presigned URL.
func (c *sigv4Claim) checkTime(now time.Time) error {
	if c.presigned {
		if now.After(c.when.Add(c.expires)) {
			return errExpiredRequest
		}
		if c.when.After(now.Add(sigv4MaxSkew)) {
			return errRequestNotYetValid
		}
		return nil
	}
	if d := now.Sub(c.when); d > sigv4MaxSkew || d < -sigv4MaxSkew {
		return errRequestTimeTooSkewed
	}
	return nil
}

// checkSignedHeaders checks that the signature covers what it must: host;
// for a signature in headers also x-amz-content-sha256 and the date header;
// and every x-amz-* header the request carries, as S3 requires — those
// headers steer the payload (its length, checksum and trailer), so none may
// be added or changed by anyone but the signer.
func (c *sigv4Claim) checkSignedHeaders(r *http.Request) error {
	signed := make(map[string]bool, len(c.headers))
	for _, h := range c.headers {
		signed[h] = true
	}
	if !signed["host"] || (!c.presigned && (!signed["x-amz-content-sha256"] || !signed[c.dateHeader])) {
		return c.malformed
	}
	for k := range r.Header {
		if k := strings.ToLower(k); strings.HasPrefix(k, "x-amz-") && !signed[k] {
			return errHeadersNotSigned
		}
	}
	return nil
}

// sign returns the signature of the canonical request.
func (c *sigv4Claim) sign(key []byte, canonical string) []byte {
	sum := sha256.Sum256([]byte(canonical))
	return hmacSHA256(key, sigv4Algorithm+"\n"+c.amzDate+"\n"+c.scope+"\n"+hex.EncodeToString(sum[:]))
}

// sigv4CanonicalRequest rebuilds the canonical request of r:
//
//	METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD
//
// The URI is the path with every byte but the unreserved ones and '/'
// percent-encoded once (S3 does not encode twice, nor normalise the path);
// the query has every name and value so encoded, sorted, without
// X-Amz-Signature when presigned; each signed header is name:value with the
// values trimmed, inner runs of white space made one space, and several
// values joined by commas. The host is r.Host.
func sigv4CanonicalRequest(r *http.Request, query url.Values, c *sigv4Claim) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	if r.URL.Path == "" {
		b.WriteByte('/')
	} else {
		uriEncode(&b, r.URL.Path, false)
	}
	b.WriteByte('\n')

	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range query {
		if c.presigned && k == "X-Amz-Signature" {
			continue
		}
		var ek strings.Builder
		uriEncode(&ek, k, true)
		for _, v := range vs {
			var ev strings.Builder
			uriEncode(&ev, v, true)
			pairs = append(pairs, pair{ek.String(), ev.String()})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	b.WriteByte('\n')

	values := headerValues(r.Header)
	for _, name := range c.headers {
		vs := values[name]
		switch {
		case name == "host":
			vs = []string{r.Host}
		case name == "content-length" && len(vs) == 0 && r.ContentLength >= 0:
			vs = []string{strconv.FormatInt(r.ContentLength, 10)}
		case name == "transfer-encoding" && len(vs) == 0:
			vs = r.TransferEncoding // net/http moves it out of the header
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(c.signedHeaders)
	b.WriteByte('\n')
	b.WriteString(c.payload)
	return b.String()
}

// headerValues returns the header's values by lowercase name (whatever case
// they arrived in), in a stable order.
func headerValues(h http.Header) map[string][]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := make(map[string][]string, len(h))
	for _, k := range keys {
		lk := strings.ToLower(k)
		m[lk] = append(m[lk], h[k]...)
	}
	return m
}

// uriEncode writes s with every byte but A-Z a-z 0-9 - . _ ~ (and '/'
// unless encodeSlash) as %XX, upper-case hex: AWS's UriEncode.
func uriEncode(b *strings.Builder, s string, encodeSlash bool) {
	const upperHex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' ||
			ch == '-' || ch == '.' || ch == '_' || ch == '~' || (ch == '/' && !encodeSlash) {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[ch>>4])
		b.WriteByte(upperHex[ch&15])
	}
}

// isLowerToken reports whether s is a non-empty lowercase HTTP header name.
func isLowerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", ch) >= 0 {
			continue
		}
		return false
	}
	return true
}

// parseAmzDate parses an ISO 8601 basic time as SigV4 writes it,
// 20060102T150405Z.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(sigv4TimeFormat) {
		return time.Time{}, false
	}
	t, err := time.Parse(sigv4TimeFormat, s)
	return t, err == nil
}

// parseDecimal parses a non-negative decimal number of at most 18 digits,
// without sign or spaces.
func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// parseHexSHA256 decodes a SHA-256 in hex (either case).
func parseHexSHA256(s string) ([]byte, bool) {
	if len(s) != 2*sha256.Size {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// sigv4SigningKey derives the signing key of a secret for a day and region.
func sigv4SigningKey(secret, date, region string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, sigv4Service)
	return hmacSHA256(k, sigv4Terminator)
}

// payloadReader returns the body of r, decoded and verified as it is read
// according to the payload mode, and the payload's announced length.
func (c *sigv4Claim) payloadReader(r *http.Request, query url.Values, key []byte) (io.Reader, int64, error) {
	var body io.Reader = r.Body
	if body == nil {
		body = http.NoBody
	}
	var checks []digestCheck
	if sum, ok := parseHexSHA256(c.payload); ok {
		checks = append(checks, digestCheck{h: sha256.New(), want: sum, err: errContentSHA256Mismatch})
	}
	// The checksum headers of CompleteMultipartUpload are the object's, not
	// its XML body's; the caller may compare them with the parts.
	if r.Method != http.MethodPost || !query.Has("uploadId") {
		header, err := checksumHeader(r.Header)
		if err != nil {
			return nil, 0, err
		}
		if header != nil {
			checks = append(checks, *header)
		}
	}

	trailers := r.Header.Values("X-Amz-Trailer")
	streaming := strings.HasPrefix(c.payload, "STREAMING-")
	length := r.ContentLength
	switch {
	case !streaming:
		if len(trailers) > 0 {
			return nil, 0, errInvalidTrailer
		}
		for _, v := range r.Header.Values("Content-Encoding") {
			if strings.Contains(strings.ToLower(v), "aws-chunked") {
				return nil, 0, errInvalidContentSHA256 // aws-chunked framing is no payload
			}
		}
	default:
		v := r.Header.Values("X-Amz-Decoded-Content-Length")
		if len(v) == 0 {
			return nil, 0, errMissingContentLength
		}
		n, ok := parseDecimal(v[0])
		if len(v) != 1 || !ok {
			return nil, 0, errInvalidDecodedLength
		}
		length = n
		var trailer *checksumAlgorithm
		if c.payload == payloadStreamingSigned {
			if len(trailers) > 0 {
				return nil, 0, errInvalidTrailer
			}
		} else {
			if len(trailers) != 1 {
				return nil, 0, errInvalidTrailer
			}
			if trailer = checksumByName(strings.ToLower(strings.TrimSpace(trailers[0]))); trailer == nil {
				return nil, 0, errInvalidTrailer
			}
		}
		var signer *chunkSigner
		if c.payload != payloadStreamingUnsignedTrailer {
			signer = &chunkSigner{key: key, amzDate: c.amzDate, scope: c.scope, prev: c.signature}
		}
		body = newChunkedReader(body, signer, trailer, length)
	}
	if len(checks) > 0 {
		body = &digestReader{r: body, checks: checks}
	}
	return body, length, nil
}

// checksumAlgorithm is one of the checksums S3 takes in an x-amz-checksum-*
// header or trailer, as the base64 of the big-endian sum.
type checksumAlgorithm struct {
	name string // the header name
	size int
	new  func() hash.Hash
}

// crc64NVMETable is CRC-64/NVME's: the polynomial 0xad93d23594c93659,
// bit-reversed as hash/crc64 wants it (the AWS SDKs use the same constant).
var crc64NVMETable = crc64.MakeTable(0x9a6c9329ac4bc9b5)

var crc32cTable = crc32.MakeTable(crc32.Castagnoli)

var checksumAlgorithms = []checksumAlgorithm{
	{"x-amz-checksum-crc32", crc32.Size, func() hash.Hash { return crc32.NewIEEE() }},
	{"x-amz-checksum-crc32c", crc32.Size, func() hash.Hash { return crc32.New(crc32cTable) }},
	{"x-amz-checksum-crc64nvme", crc64.Size, func() hash.Hash { return crc64.New(crc64NVMETable) }},
	{"x-amz-checksum-sha1", sha1.Size, sha1.New},
	{"x-amz-checksum-sha256", sha256.Size, sha256.New},
}

// checksumByName returns the algorithm of a lowercase header name, or nil.
func checksumByName(name string) *checksumAlgorithm {
	for i := range checksumAlgorithms {
		if checksumAlgorithms[i].name == name {
			return &checksumAlgorithms[i]
		}
	}
	return nil
}

// decode decodes a checksum value of the algorithm.
func (a *checksumAlgorithm) decode(v string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) != a.size {
		return nil, errInvalidChecksum
	}
	return b, nil
}

// checksumHeader returns the check of the x-amz-checksum-* header of h, if
// there is one (there may be at most one).
func checksumHeader(h http.Header) (*digestCheck, error) {
	var check *digestCheck
	for i := range checksumAlgorithms {
		a := &checksumAlgorithms[i]
		vs := h.Values(a.name)
		if len(vs) == 0 {
			continue
		}
		if check != nil || len(vs) > 1 {
			return nil, errMultipleChecksums
		}
		want, err := a.decode(vs[0])
		if err != nil {
			return nil, err
		}
		check = &digestCheck{h: a.new(), want: want, err: errBadDigest}
	}
	return check, nil
}

// digestCheck is a digest the payload must have, and the error if it has
// not.
type digestCheck struct {
	h    hash.Hash
	want []byte
	err  *s3Error
}

// digestReader passes a body through and checks its digests at the end:
// io.EOF only if they all match, else the error of the first that does not.
type digestReader struct {
	r      io.Reader
	checks []digestCheck
	err    error // sticky
}

func (d *digestReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	for _, c := range d.checks {
		c.h.Write(p[:n])
	}
	if err == io.EOF {
		for _, c := range d.checks {
			if !bytes.Equal(c.h.Sum(nil), c.want) {
				err = c.err
				break
			}
		}
	}
	if err != nil {
		d.err = err
	}
	return n, err
}
