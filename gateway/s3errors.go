package gateway

import "net/http"

// s3Error is an error as S3 reports it: a code from S3's list, a fixed
// message and an HTTP status. The message never holds a value taken from the
// request (except, at most, a header name): a client learns what kind of
// thing went wrong, never anything we did not already know it sent.
type s3Error struct {
	Code    string // S3 error code, e.g. "SignatureDoesNotMatch"
	Message string // fixed text
	Status  int    // HTTP status
}

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

// Authentication.
var (
	errAccessDenied                      = &s3Error{Code: "AccessDenied", Message: "Access Denied", Status: http.StatusForbidden}
	errSignatureDoesNotMatch             = &s3Error{Code: "SignatureDoesNotMatch", Message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.", Status: http.StatusForbidden}
	errInvalidAccessKeyID                = &s3Error{Code: "InvalidAccessKeyId", Message: "The AWS Access Key Id you provided does not exist in our records.", Status: http.StatusForbidden}
	errRequestTimeTooSkewed              = &s3Error{Code: "RequestTimeTooSkewed", Message: "The difference between the request time and the current time is too large.", Status: http.StatusForbidden}
	errAuthorizationHeaderMalformed      = &s3Error{Code: "AuthorizationHeaderMalformed", Message: "The authorization header is malformed: it must be AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/s3/aws4_request, SignedHeaders=..., Signature=..., with this endpoint's region and the date of the request, and sign at least host, x-amz-content-sha256 and x-amz-date (or date).", Status: http.StatusBadRequest}
	errAuthorizationQueryParametersError = &s3Error{Code: "AuthorizationQueryParametersError", Message: "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential (KEY/DATE/REGION/s3/aws4_request, with this endpoint's region), X-Amz-Date, X-Amz-Expires (at most 604800), X-Amz-SignedHeaders (with host) and X-Amz-Signature parameters, each once.", Status: http.StatusBadRequest}
	errMissingSecurityHeader             = &s3Error{Code: "MissingSecurityHeader", Message: "Your request is missing a required header: x-amz-content-sha256.", Status: http.StatusBadRequest}
	errExpiredRequest                    = &s3Error{Code: "AccessDenied", Message: "Request has expired", Status: http.StatusForbidden}
	errRequestNotYetValid                = &s3Error{Code: "AccessDenied", Message: "Request is not valid yet", Status: http.StatusForbidden}
	errMissingDate                       = &s3Error{Code: "AccessDenied", Message: "AWS authentication requires a valid Date or x-amz-date header", Status: http.StatusForbidden}
	errHeadersNotSigned                  = &s3Error{Code: "AccessDenied", Message: "There were headers present in the request which were not signed: every x-amz-* header must be signed.", Status: http.StatusForbidden}
	errMultipleAuth                      = &s3Error{Code: "InvalidArgument", Message: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.", Status: http.StatusBadRequest}
	errUnsupportedAuthorization          = &s3Error{Code: "NotImplemented", Message: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.", Status: http.StatusNotImplemented}
	errInvalidToken                      = &s3Error{Code: "InvalidToken", Message: "The provided token is malformed or otherwise invalid: this endpoint issues no session tokens.", Status: http.StatusBadRequest}
	errInvalidQuery                      = &s3Error{Code: "InvalidArgument", Message: "The query string is malformed.", Status: http.StatusBadRequest}
)

// The payload: its hash, checksums and aws-chunked framing.
var (
	errContentSHA256Mismatch = &s3Error{Code: "XAmzContentSHA256Mismatch", Message: "The provided 'x-amz-content-sha256' header does not match what was computed.", Status: http.StatusBadRequest}
	errInvalidContentSHA256  = &s3Error{Code: "InvalidArgument", Message: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a hex SHA-256.", Status: http.StatusBadRequest}
	errBadDigest             = &s3Error{Code: "BadDigest", Message: "The Content-MD5 or checksum value that you specified did not match what the server received.", Status: http.StatusBadRequest}
	errInvalidChecksum       = &s3Error{Code: "InvalidRequest", Message: "The value of an x-amz-checksum-* header or trailer is not a valid base64 checksum of its algorithm.", Status: http.StatusBadRequest}
	errMultipleChecksums     = &s3Error{Code: "InvalidRequest", Message: "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.", Status: http.StatusBadRequest}
	errInvalidTrailer        = &s3Error{Code: "InvalidRequest", Message: "x-amz-trailer must name one of x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 or -sha256, and only with a STREAMING-*-TRAILER payload.", Status: http.StatusBadRequest}
	errMalformedTrailer      = &s3Error{Code: "MalformedTrailerError", Message: "The request contained trailing data that was not well-formed or did not conform to our published schema.", Status: http.StatusBadRequest}
	errInvalidChunk          = &s3Error{Code: "InvalidRequest", Message: "The aws-chunked payload is malformed.", Status: http.StatusBadRequest}
	errTruncatedPayload      = &s3Error{Code: "IncompleteBody", Message: "You did not provide the number of bytes specified by the Content-Length or x-amz-decoded-content-length HTTP header.", Status: http.StatusBadRequest}
	errInvalidDecodedLength  = &s3Error{Code: "InvalidArgument", Message: "x-amz-decoded-content-length must be a decimal number of bytes.", Status: http.StatusBadRequest}
	errMissingContentLength  = &s3Error{Code: "MissingContentLength", Message: "You must provide the Content-Length HTTP header (and x-amz-decoded-content-length with an aws-chunked payload).", Status: http.StatusLengthRequired}
)

// Requests and resources, for the handler.
var (
	errNotImplemented    = &s3Error{Code: "NotImplemented", Message: "A header or query you provided implies functionality that is not implemented.", Status: http.StatusNotImplemented}
	errInvalidRequest    = &s3Error{Code: "InvalidRequest", Message: "The request is not valid.", Status: http.StatusBadRequest}
	errMalformedXML      = &s3Error{Code: "MalformedXML", Message: "The XML you provided was not well-formed or did not validate against our published schema.", Status: http.StatusBadRequest}
	errNoSuchBucket      = &s3Error{Code: "NoSuchBucket", Message: "The specified bucket does not exist.", Status: http.StatusNotFound}
	errNoSuchKey         = &s3Error{Code: "NoSuchKey", Message: "The specified key does not exist.", Status: http.StatusNotFound}
	errNoSuchUpload      = &s3Error{Code: "NoSuchUpload", Message: "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", Status: http.StatusNotFound}
	errInvalidPart       = &s3Error{Code: "InvalidPart", Message: "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", Status: http.StatusBadRequest}
	errInvalidPartOrder  = &s3Error{Code: "InvalidPartOrder", Message: "The list of parts was not in ascending order. The parts list must be specified in order by part number.", Status: http.StatusBadRequest}
	errEntityTooLarge    = &s3Error{Code: "EntityTooLarge", Message: "Your proposed upload exceeds the maximum allowed object size.", Status: http.StatusBadRequest}
	errEntityTooSmall    = &s3Error{Code: "EntityTooSmall", Message: "Your proposed upload is smaller than the minimum allowed object size.", Status: http.StatusBadRequest}
	errInternal          = &s3Error{Code: "InternalError", Message: "We encountered an internal error. Please try again.", Status: http.StatusInternalServerError}
	errInvalidBucketName = &s3Error{Code: "InvalidBucketName", Message: "The specified bucket is not valid.", Status: http.StatusBadRequest}
	errMethodNotAllowed  = &s3Error{Code: "MethodNotAllowed", Message: "The specified method is not allowed against this resource.", Status: http.StatusMethodNotAllowed}
)
