package crypto

import (
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// MaxKeyFileSize bounds what ReadKeyFile reads: a key file is a few hundred
// bytes, so anything bigger is the wrong file.
const MaxKeyFileSize = 1 << 20

// ReadKeyFile returns the contents of a file holding secret key material,
// after checking that it is a regular file (symbolic links are followed, as
// for a Kubernetes secret mount) of at most MaxKeyFileSize bytes that
// neither group nor others may read, write or execute (mode&0o077 == 0).
// Like OpenSSH with an "UNPROTECTED PRIVATE KEY FILE", it refuses a key that
// others can read rather than warn: a key someone else may have copied is
// no longer secret. Errors name the path and the mode, never the contents.
//
// The checks are made on the opened file, so the file read is the file
// checked.
func ReadKeyFile(path string) ([]byte, error) {
	// Stat before opening: opening a FIFO for reading would block.
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s: not a regular file (mode %s)", path, fi.Mode())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s: not a regular file (mode %s)", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: UNPROTECTED PRIVATE KEY FILE: mode %04o lets group or others access it; it must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	if fi.Size() > MaxKeyFileSize {
		return nil, fmt.Errorf("key file %s: %d bytes, more than the %d a key file may have", path, fi.Size(), MaxKeyFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if len(data) > MaxKeyFileSize {
		return nil, fmt.Errorf("key file %s: more than the %d bytes a key file may have", path, MaxKeyFileSize)
	}
	return data, nil
}

// LoadAgeIdentities reads age identity files, each checked by ReadKeyFile,
// and returns all their identities in order. A file has the format
// age-keygen writes: lines starting with '#' and blank lines are ignored,
// every other line is one identity (AGE-SECRET-KEY-1…, or
// AGE-SECRET-KEY-PQ-1… for a post-quantum hybrid one). A file without any
// identity is an error.
//
// Errors name the file and line, never the line's contents: a malformed
// line is most likely a damaged key.
func LoadAgeIdentities(paths ...string) ([]age.Identity, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("load age identities: no identity file")
	}
	var ids []age.Identity
	for _, path := range paths {
		data, err := ReadKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("load age identities: %w", err)
		}
		fileIDs, err := parseAgeIdentities(data)
		if err != nil {
			return nil, fmt.Errorf("load age identities: %s: %w", path, err)
		}
		ids = append(ids, fileIDs...)
	}
	return ids, nil
}

// parseAgeIdentities parses one identity file line by line with
// age.ParseIdentities, so that an error can name the line without repeating
// age's message, which may quote characters of the key.
func parseAgeIdentities(data []byte) ([]age.Identity, error) {
	var ids []age.Identity
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := age.ParseIdentities(strings.NewReader(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: not a valid age identity (AGE-SECRET-KEY-1…)", i+1)
		}
		ids = append(ids, id...)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no age identity in the file")
	}
	return ids, nil
}
