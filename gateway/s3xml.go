package gateway

import (
	"encoding/xml"
	"time"
)

// The XML documents of the S3 operations the endpoint serves, as the S3 API
// reference names their elements. Responses carry the S3 namespace; request
// documents (CompleteMultipartUpload) are matched by element name whatever
// their namespace, as S3 does.

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// s3TimeFormat is how S3 writes times in XML: ISO 8601 in UTC, milliseconds.
const s3TimeFormat = "2006-01-02T15:04:05.000Z"

func s3Time(t time.Time) string { return t.UTC().Format(s3TimeFormat) }

// xmlError is S3's error document.
type xmlError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
}

type xmlOwner struct {
	ID          string
	DisplayName string
}

type listAllMyBucketsResult struct {
	XMLName xml.Name    `xml:"ListAllMyBucketsResult"`
	Xmlns   string      `xml:"xmlns,attr"`
	Owner   xmlOwner    `xml:"Owner"`
	Buckets []xmlBucket `xml:"Buckets>Bucket"`
}

type xmlBucket struct {
	Name         string
	CreationDate string
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Region  string   `xml:",chardata"`
}

type xmlObject struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	Owner        *xmlOwner `xml:",omitempty"`
	StorageClass string
}

type xmlPrefix struct {
	Prefix string
}

// listBucketResult is the answer to ListObjectsV2 and to ListObjects
// (version 1): the same element with different fields set.
type listBucketResult struct {
	XMLName xml.Name `xml:"ListBucketResult"`
	Xmlns   string   `xml:"xmlns,attr"`
	Name    string
	Prefix  string
	// Version 1.
	Marker     *string `xml:",omitempty"`
	NextMarker string  `xml:",omitempty"`
	// Version 2.
	KeyCount              *int   `xml:",omitempty"`
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`

	Delimiter      string `xml:",omitempty"`
	MaxKeys        int
	EncodingType   string `xml:",omitempty"`
	IsTruncated    bool
	Contents       []xmlObject
	CommonPrefixes []xmlPrefix
}

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Bucket   string
	Key      string
	UploadID string `xml:"UploadId"`
}

// completeMultipartUpload is the request document of
// CompleteMultipartUpload. Checksum elements clients add to a part are
// ignored: every part's MD5 is checked instead.
type completeMultipartUpload struct {
	XMLName xml.Name       `xml:"CompleteMultipartUpload"`
	Parts   []completePart `xml:"Part"`
}

type completePart struct {
	PartNumber int
	ETag       string
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Location string
	Bucket   string
	Key      string
	ETag     string
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
	Xmlns              string   `xml:"xmlns,attr"`
	Bucket             string
	KeyMarker          string
	UploadIDMarker     string `xml:"UploadIdMarker"`
	NextKeyMarker      string `xml:",omitempty"`
	NextUploadIDMarker string `xml:"NextUploadIdMarker,omitempty"`
	Prefix             string `xml:",omitempty"`
	MaxUploads         int
	IsTruncated        bool
	Uploads            []xmlUpload `xml:"Upload"`
}

type xmlUpload struct {
	Key          string
	UploadID     string `xml:"UploadId"`
	Initiator    xmlOwner
	Owner        xmlOwner
	StorageClass string
	Initiated    string
}

type listPartsResult struct {
	XMLName              xml.Name `xml:"ListPartsResult"`
	Xmlns                string   `xml:"xmlns,attr"`
	Bucket               string
	Key                  string
	UploadID             string `xml:"UploadId"`
	Initiator            xmlOwner
	Owner                xmlOwner
	StorageClass         string
	PartNumberMarker     int
	NextPartNumberMarker int
	MaxParts             int
	IsTruncated          bool
	Parts                []xmlPart `xml:"Part"`
}

type xmlPart struct {
	PartNumber   int
	LastModified string
	ETag         string
	Size         int64
}
