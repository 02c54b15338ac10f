package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// OpenPGPKey is one OpenPGP private key: a primary key with its subkeys, of
// which at least one can decrypt and has its secret part, unprotected.
type OpenPGPKey struct {
	entity *openpgp.Entity
	// decrypters are the keys (primary or subkeys) whose self-signature
	// allows encryption and whose secret part is there and unprotected:
	// the only ones a message is decrypted with.
	decrypters []openpgp.Key
}

// Fingerprint returns the fingerprint of the primary key in upper-case
// hexadecimal, as gpg shows it. It is public: senders check it.
func (k *OpenPGPKey) Fingerprint() string {
	return fmt.Sprintf("%X", k.entity.PrimaryKey.Fingerprint)
}

// EncryptableAt reports whether senders can encrypt to the key at time t:
// it has an encryption (sub)key that is neither expired nor revoked then.
// A key that is not may still decrypt messages made before.
func (k *OpenPGPKey) EncryptableAt(t time.Time) bool {
	_, ok := k.entity.EncryptionKey(t)
	return ok
}

// LoadOpenPGPKeys reads OpenPGP private key files, each checked by
// ReadKeyFile, and returns all their keys in order. A file is an
// ASCII-armoured private key block ("-----BEGIN PGP PRIVATE KEY
// BLOCK-----") of one or more keys, as `ttpgate keygen` writes openpgp.key
// and `gpg --export-secret-keys --armor` exports. Every key needs an
// encryption key (the primary or a subkey) whose secret part is in the file
// and not protected by a passphrase: like the age identity, the key file is
// protected by its mode (0600) and the machine, not by a passphrase that
// would have to be stored next to it. Remove a passphrase in gpg with
// `gpg --passwd` (entering an empty one) before exporting.
//
// Errors name the file, never its contents.
func LoadOpenPGPKeys(paths ...string) ([]*OpenPGPKey, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("load OpenPGP keys: no key file")
	}
	var keys []*OpenPGPKey
	for _, path := range paths {
		data, err := ReadKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("load OpenPGP keys: %w", err)
		}
		fileKeys, err := parseOpenPGPKeys(data)
		if err != nil {
			return nil, fmt.Errorf("load OpenPGP keys: %s: %w", path, err)
		}
		keys = append(keys, fileKeys...)
	}
	return keys, nil
}

// parseOpenPGPKeys parses the armoured private key blocks of a key file
// (one block may hold several keys; several blocks may follow each other)
// and checks that every key in them can decrypt.
func parseOpenPGPKeys(data []byte) ([]*OpenPGPKey, error) {
	const notKey = "not an ASCII-armoured OpenPGP private key (-----BEGIN PGP PRIVATE KEY BLOCK-----)"
	var entities openpgp.EntityList
	blocks := splitArmorBlocks(data)
	if len(blocks) == 0 {
		return nil, errors.New(notKey)
	}
	for _, b := range blocks {
		block, err := armor.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, errors.New(notKey)
		}
		switch block.Type {
		case openpgp.PrivateKeyType:
		case openpgp.PublicKeyType:
			return nil, errors.New("holds a public key, not a private key; export the private key with gpg --export-secret-keys --armor")
		default:
			return nil, fmt.Errorf("holds a %q block, not an OpenPGP private key", block.Type)
		}
		el, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			// go-crypto's messages name packet types and algorithm
			// numbers, never key material.
			return nil, fmt.Errorf("not a valid OpenPGP private key: %w", err)
		}
		entities = append(entities, el...)
	}
	if len(entities) == 0 {
		return nil, errors.New("no key in the file")
	}
	keys := make([]*OpenPGPKey, 0, len(entities))
	for _, e := range entities {
		k := &OpenPGPKey{entity: e}
		protected := false
		for _, c := range encryptionKeys(e) {
			switch {
			case c.PrivateKey == nil || c.PrivateKey.Dummy():
			case c.PrivateKey.Encrypted:
				protected = true
			default:
				k.decrypters = append(k.decrypters, c)
			}
		}
		switch {
		case len(k.decrypters) > 0:
		case protected:
			return nil, fmt.Errorf("key %s is protected by a passphrase; ttpgate reads keys without one (remove it with gpg --passwd, entering an empty passphrase, then export again)", k.Fingerprint())
		default:
			return nil, fmt.Errorf("key %s has no encryption key with its secret part", k.Fingerprint())
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// splitArmorBlocks splits data at the start of every armour block (a line
// that starts with "-----BEGIN "); what comes before the first is dropped
// if it is white space, and makes the result empty otherwise.
func splitArmorBlocks(data []byte) [][]byte {
	var blocks [][]byte
	start := -1
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += i + 1
		}
		if bytes.HasPrefix(bytes.TrimLeft(data[i:end], " \t"), []byte("-----BEGIN ")) {
			if start < 0 && len(bytes.TrimSpace(data[:i])) > 0 {
				return nil
			}
			if start >= 0 {
				blocks = append(blocks, data[start:i])
			}
			start = i
		}
		i = end
	}
	if start >= 0 {
		blocks = append(blocks, data[start:])
	}
	return blocks
}

// encryptionKeys returns the primary key and the subkeys of e whose
// self-signature has valid key flags that allow encryption. A key flagged
// for signing or certification only is never used to decrypt, whatever a
// message says: no cross-protocol use of a signing key.
func encryptionKeys(e *openpgp.Entity) []openpgp.Key {
	var keys []openpgp.Key
	canEncrypt := func(sig *packet.Signature) bool {
		return sig != nil && sig.FlagsValid && (sig.FlagEncryptCommunications || sig.FlagEncryptStorage)
	}
	if sig, _ := e.PrimarySelfSignature(); canEncrypt(sig) {
		keys = append(keys, openpgp.Key{Entity: e, PublicKey: e.PrimaryKey, PrivateKey: e.PrivateKey,
			SelfSignature: sig, Revocations: e.Revocations})
	}
	for _, sub := range e.Subkeys {
		if canEncrypt(sub.Sig) {
			keys = append(keys, openpgp.Key{Entity: e, PublicKey: sub.PublicKey, PrivateKey: sub.PrivateKey,
				SelfSignature: sub.Sig, Revocations: sub.Revocations})
		}
	}
	return keys
}
