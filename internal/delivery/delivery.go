// Package delivery turns an upload into a delivery in the store, the one way
// every channel (the `deliver` command, SFTP, S3) does it: the naming rule,
// the check that the first bytes are an age or OpenPGP message, a size limit,
// SHA-256 on the way, and an atomic commit. The data object is written first
// and meta.json last: a delivery exists exactly when its meta.json does, so a
// transfer cut off leaves nothing the processor would see.
package delivery

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ttpgate/ttpgate/crypto"
	"github.com/ttpgate/ttpgate/internal/store"
)

// Channels a delivery can arrive over.
const (
	ChannelCLI  = "cli"
	ChannelSFTP = "sftp"
	ChannelS3   = "s3"
)

// Meta is landed/<tenant>/<id>/meta.json: who, when, how, size and hash.
type Meta struct {
	ID             string    `json:"delivery_id"`
	Tenant         string    `json:"tenant"`
	Channel        string    `json:"channel"`
	FileName       string    `json:"file_name"`
	Size           int64     `json:"size_bytes"`
	SHA256         string    `json:"sha256"`
	Format         string    `json:"format"` // "age" or "openpgp"
	ReceivedAt     time.Time `json:"received_at"`
	RemoteAddr     string    `json:"remote_addr,omitempty"`
	KeyFingerprint string    `json:"key_fingerprint,omitempty"`
	// S3ETag is the ETag the S3 endpoint answered for the upload, so that
	// every gateway instance answers HeadObject of it alike.
	S3ETag string `json:"s3_etag,omitempty"`
}

// DataKey and MetaKey are where a delivery's objects live.
func DataKey(tenant, id string) string { return TenantPrefix(tenant) + id + "/data" }
func MetaKey(tenant, id string) string { return TenantPrefix(tenant) + id + "/meta.json" }

// TenantPrefix is the prefix of the keys of a tenant's deliveries.
func TenantPrefix(tenant string) string { return "landed/" + tenant + "/" }

// Refusal is why an upload was refused before it became a delivery. Its
// message is fixed text meant for the client; it never holds file content.
type Refusal struct {
	Code    string
	Message string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

// Refusal codes.
var (
	ErrBadName      = &Refusal{"invalid_name", "file name must be 1-128 characters of A-Z a-z 0-9 . _ -, not start with '.', and end in .age, .gpg, .pgp or .asc"}
	ErrNotEncrypted = &Refusal{"not_encrypted", "file is not an age or OpenPGP message; encrypt it to the TTP's recipient before uploading"}
	ErrTooLarge     = &Refusal{"too_large", "file exceeds the maximum size"}
	ErrEmpty        = &Refusal{"empty", "file is empty"}
)

// MaxNameLen is the longest file name accepted.
const MaxNameLen = 128

// ValidateName applies the naming rule of the drop-zone.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen || name[0] == '.' {
		return ErrBadName
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return ErrBadName
		}
	}
	lower := strings.ToLower(name)
	for _, ext := range []string{".age", ".gpg", ".pgp", ".asc"} {
		if strings.HasSuffix(lower, ext) && len(name) > len(ext) {
			return nil
		}
	}
	return ErrBadName
}

// NewID returns a delivery id that sorts in arrival order to the
// millisecond: 20261123T101500.123Z-3f9a1c2e.
func NewID(t time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return t.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// ValidID reports whether id has the shape NewID produces.
func ValidID(id string) bool {
	if len(id) != 29 || id[8] != 'T' || id[15] != '.' || id[19] != 'Z' || id[20] != '-' {
		return false
	}
	if _, err := time.Parse("20060102T150405.000Z", id[:20]); err != nil {
		return false
	}
	_, err := hex.DecodeString(id[21:])
	return err == nil
}

// Upload describes an incoming file.
type Upload struct {
	Tenant         string
	Channel        string
	FileName       string
	RemoteAddr     string
	KeyFingerprint string
	// MaxSize bounds the file; 0 means no limit.
	MaxSize int64
	// Now is the arrival time (time.Now when zero).
	Now time.Time
}

// Commit streams r into the store as a new delivery of u.Tenant and returns
// its metadata. Before anything is stored it checks the name and the first
// bytes (a *Refusal when they fail). When r fails, ctx ends or the size
// limit is passed, nothing remains in the store.
func Commit(ctx context.Context, st store.Store, u Upload, r io.Reader) (Meta, error) {
	p, err := Stage(ctx, st, u, r)
	if err != nil {
		return Meta{}, err
	}
	return p.Commit(ctx, u.FileName)
}

// Pending is an upload whose data is stored but which is no delivery yet:
// without meta.json the processor does not see it. Commit makes it one;
// Discard removes it.
type Pending struct {
	st   store.Store
	meta Meta
}

// Meta returns the metadata the delivery will have (its file name is set by Commit).
func (p *Pending) Meta() Meta { return p.meta }

// SetS3ETag records the ETag the S3 endpoint answers for the upload.
func (p *Pending) SetS3ETag(etag string) { p.meta.S3ETag = etag }

// Stage checks the name and first bytes of an upload and streams it into the
// store under a new delivery id, hashing it on the way. The result becomes a
// delivery only by Commit. When r fails, ctx ends or the size limit is
// passed, nothing remains in the store.
func Stage(ctx context.Context, st store.Store, u Upload, r io.Reader) (*Pending, error) {
	if err := ValidateName(u.FileName); err != nil {
		return nil, err
	}
	head := make([]byte, crypto.SniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return nil, ErrEmpty
	}
	format := crypto.DetectFormat(head)
	if format == crypto.FormatUnknown {
		return nil, ErrNotEncrypted
	}
	now := u.Now
	if now.IsZero() {
		now = time.Now()
	}
	m := Meta{
		ID:             NewID(now),
		Tenant:         u.Tenant,
		Channel:        u.Channel,
		FileName:       u.FileName,
		Format:         format.String(),
		ReceivedAt:     now.UTC().Truncate(time.Millisecond),
		RemoteAddr:     u.RemoteAddr,
		KeyFingerprint: u.KeyFingerprint,
	}
	h := sha256.New()
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(head), r), h: h, max: u.MaxSize}
	// Create, not Put: should two gateway instances ever draw the same id,
	// the second fails instead of replacing the first one's data.
	if err := st.Create(ctx, DataKey(m.Tenant, m.ID), cr); err != nil {
		if cr.tooLarge {
			return nil, ErrTooLarge
		}
		return nil, fmt.Errorf("store delivery data: %w", err)
	}
	m.Size = cr.n
	m.SHA256 = hex.EncodeToString(h.Sum(nil))
	return &Pending{st: st, meta: m}, nil
}

// Commit writes meta.json with the final file name (which must pass the
// naming rule): from then on the upload is a delivery.
func (p *Pending) Commit(ctx context.Context, fileName string) (Meta, error) {
	if err := ValidateName(fileName); err != nil {
		p.Discard(ctx)
		return Meta{}, err
	}
	m := p.meta
	m.FileName = fileName
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Meta{}, err
	}
	if err := p.st.Create(ctx, MetaKey(m.Tenant, m.ID), bytes.NewReader(b)); err != nil {
		p.Discard(ctx)
		return Meta{}, fmt.Errorf("commit delivery: %w", err)
	}
	return m, nil
}

// Discard removes the staged data.
func (p *Pending) Discard(ctx context.Context) error {
	return p.st.Delete(context.WithoutCancel(ctx), DataKey(p.meta.Tenant, p.meta.ID))
}

type countingReader struct {
	r        io.Reader
	h        io.Writer
	n, max   int64
	tooLarge bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	if c.max > 0 && c.n > c.max {
		c.tooLarge = true
		return n, ErrTooLarge
	}
	return n, err
}

// ReadMeta reads and checks one meta.json.
func ReadMeta(ctx context.Context, st store.Store, key string) (Meta, error) {
	b, err := store.ReadAll(ctx, st, key, 64<<10)
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("parse %s: %w", key, err)
	}
	if !ValidID(m.ID) || MetaKey(m.Tenant, m.ID) != key {
		return Meta{}, fmt.Errorf("parse %s: delivery id or tenant does not match its key", key)
	}
	return m, nil
}

// List yields every committed delivery in the store, in delivery id order
// within each tenant.
func List(ctx context.Context, st store.Store) ([]Meta, error) {
	var out []Meta
	for info, err := range st.List(ctx, "landed/") {
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(info.Key, "/meta.json") {
			continue
		}
		m, err := ReadMeta(ctx, st, info.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
