// Package store keeps ttpgate's state: landed deliveries, the ledger, staging
// files, feedback reports and outputs. Every implementation (the local
// filesystem here, S3 later) satisfies the contract written on [Store] and
// proves it by passing the conformance suite in package storetest.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors of the contract. Implementations return errors for which
// errors.Is reports one of these; callers branch on them.
var (
	// ErrNotExist: the key does not exist.
	ErrNotExist = errors.New("store: key does not exist")
	// ErrExist: Create found the key already present.
	ErrExist = errors.New("store: key already exists")
	// ErrInvalidKey: the key breaks the key rules of ValidateKey.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrChanged: Replace found another version of the object than the
	// one it was given, or none.
	ErrChanged = errors.New("store: object changed")
)

// Info describes one stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// ETag names this version of the object, for Replace: it changes
	// whenever the object is written with other bytes (S3 may keep it for a
	// write of the same bytes). It is opaque; compare it only for equality.
	ETag string
}

// Store is the small interface every backend implements. Keys are
// slash-separated paths validated by ValidateKey; an invalid key yields
// ErrInvalidKey and touches nothing.
//
// A key cannot also be a folder of other keys: while "a/b" exists, "a/b/c"
// cannot be stored, and the other way round. Filesystem-backed stores (the
// local store, MinIO) cannot hold both, so Put and Create fail in that case
// with an error that is none of the sentinels, and callers must lay out
// their keys so it never happens (the store layout in DESIGN.md does). A
// folder is not an object: Get and Stat of "a" while only "a/b" exists
// report ErrNotExist, and Delete of "a" deletes nothing.
type Store interface {
	// Put stores the bytes of r under key, replacing any object there.
	// The object becomes visible only when r is read to EOF without error:
	// readers see the old object or the complete new one, never a part.
	// When r fails or ctx ends, nothing is stored and no leftover remains.
	Put(ctx context.Context, key string, r io.Reader) error

	// Create is Put that succeeds only if key does not exist yet
	// (create-if-absent). When it exists, Create returns ErrExist and the
	// existing object is unchanged. Of concurrent Creates of one key exactly
	// one succeeds.
	Create(ctx context.Context, key string, r io.Reader) error

	// Replace is Put that succeeds only if the object under key is still
	// the version etag names (an Info.ETag from Stat or List): a
	// compare-and-swap. Otherwise, also when the object is gone, it returns
	// ErrChanged and stores nothing. Of concurrent Replaces of one version
	// at most one succeeds, and a Replace never succeeds against an object
	// that a Create, Replace or Delete changed after etag was read.
	Replace(ctx context.Context, key string, r io.Reader, etag string) error

	// Get opens the object for streaming reads. ErrNotExist if absent.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// Stat describes the object. ErrNotExist if absent.
	Stat(ctx context.Context, key string) (Info, error)

	// List yields the objects whose key starts with prefix (a plain string
	// prefix, not only at a slash), in ascending byte order of key. The
	// prefix "" lists everything. Objects still being written never appear.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]

	// Delete removes the object. Deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// MaxKeyLen bounds the length of a key in bytes.
const MaxKeyLen = 1024

// maxSegmentLen bounds one segment of a key in bytes: filesystems (and so
// the local store and MinIO) refuse longer file names.
const maxSegmentLen = 255

// ValidateKey reports whether key is acceptable to every backend: 1 to
// MaxKeyLen bytes of valid UTF-8 without control characters or backslashes,
// segments of at most 255 bytes separated by single slashes, no empty, "."
// or ".." segment, no leading or trailing slash, and no segment starting
// with ".tmp" in any letter case (reserved for backends' temporary files;
// any case, because the local store may sit on a case-insensitive
// filesystem).
func ValidateKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why) }
	if key == "" {
		return bad("empty")
	}
	if len(key) > MaxKeyLen {
		return bad("too long")
	}
	if !utf8.ValidString(key) {
		return bad("invalid UTF-8")
	}
	for _, r := range key {
		switch {
		case r == '\\':
			return bad("backslash")
		case unicode.IsControl(r):
			return bad("control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return bad("empty segment")
		case seg == "." || seg == "..":
			return bad("dot segment")
		case len(seg) > maxSegmentLen:
			return bad("segment too long")
		case len(seg) >= 4 && strings.EqualFold(seg[:4], ".tmp"):
			return bad("reserved segment")
		}
	}
	return nil
}

// PutBytes is a convenience for small objects.
func PutBytes(ctx context.Context, s Store, key string, b []byte) error {
	return s.Put(ctx, key, bytes.NewReader(b))
}

// ReadAll reads a small object whole, up to limit bytes (an object larger
// than limit is an error, not a silent truncation).
func ReadAll(ctx context.Context, s Store, key string, limit int64) ([]byte, error) {
	rc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", key, limit)
	}
	return b, nil
}
