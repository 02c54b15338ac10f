package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
)

// s3SecretLabel separates the derivation of S3 secrets from any other use of
// the credential secret; the version lets a future derivation coexist.
const s3SecretLabel = "ttpgate s3 secret v1\x00"

// DeriveS3Secret derives a tenant's S3 secret access key from the
// deployment's credential secret (the bytes of the s3.secret file, trimmed)
// and the tenant's access key id: the first 40 characters of the standard
// base64 of HMAC-SHA256(credentialSecret, "ttpgate s3 secret v1\x00" +
// accessKeyID), which look like an AWS secret key to every client.
//
// Deriving the secrets means no configuration file ever holds one: the
// configuration names access key ids, the key file holds one secret, and
// `ttpgate tenants s3-credentials` prints what a tenant needs. Rotating the
// credential secret rotates every tenant's key.
func DeriveS3Secret(credentialSecret []byte, accessKeyID string) string {
	m := hmac.New(sha256.New, credentialSecret)
	m.Write([]byte(s3SecretLabel))
	m.Write([]byte(accessKeyID))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))[:40]
}

// s3Credential is an access key: its id, its secret and the tenant it
// belongs to. It prints and logs without its secret.
type s3Credential struct{ AccessKeyID, Secret, Tenant string }

// String keeps the secret out of fmt's %v and %s.
func (c s3Credential) String() string {
	return "{AccessKeyID:" + c.AccessKeyID + " Tenant:" + c.Tenant + " Secret:REDACTED}"
}

// GoString keeps the secret out of fmt's %#v.
func (c s3Credential) GoString() string { return "s3Credential" + c.String() }

// LogValue keeps the secret out of the logs.
func (c s3Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key", c.AccessKeyID), slog.String("tenant", c.Tenant),
		slog.String("secret", "REDACTED"))
}

// credentialLookup finds the credential of an access key id; false when the
// id is unknown.
type credentialLookup func(accessKeyID string) (s3Credential, bool)
