#!/usr/bin/env bash
# Regenerates the OpenPGP test vectors TestDecryptOpenPGPVectors and
# FuzzDecryptOpenPGP read, with the real gpg (2.2 on Debian 12). The
# processor key is a throwaway made here for these tests only
# (Ed25519/Curve25519, no passphrase) and protects nothing:
# test-only-key.asc is its secret key. Run from this folder; review the
# diff like code.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
export GNUPGHOME="$tmp/gnupg"
mkdir -m 700 "$GNUPGHOME"
trap 'gpgconf --kill all; rm -rf "$tmp"' EXIT
gpg_() { gpg --batch --quiet --no-tty --yes --pinentry-mode loopback --trust-model always "$@"; }

printf 'bsn;client_id;agb_organisatie\n111222333;c-1;12345678\n' >plain.csv
# The processor's key (secret, exported as an operator would) and another
# recipient's key, and a sender's key that signs.
gpg_ --passphrase '' --quick-gen-key 'ttpgate test processor <processor@example.invalid>' ed25519 sign,cert never
gpg_ --passphrase '' --quick-add-key "$(gpg_ --with-colons --list-keys =ttpgate\ test\ processor\ \<processor@example.invalid\> | awk -F: '/^fpr/{print $10; exit}')" cv25519 encr never
gpg_ --passphrase '' --export-secret-keys --armor processor@example.invalid >test-only-key.asc
gpg_ --passphrase '' --quick-gen-key 'someone else <other@example.invalid>' future-default default never
gpg_ --passphrase '' --quick-gen-key 'vendor <vendor@example.invalid>' ed25519 sign never

to=(-r processor@example.invalid)
gpg_ "${to[@]}" -e -o plain.gpg plain.csv                                  # gpg's defaults: ZLIB
gpg_ "${to[@]}" -e --compress-algo none -o plain-uncompressed.gpg plain.csv
gpg_ "${to[@]}" -e -a -o plain.asc plain.csv
gpg_ "${to[@]}" -e --compress-algo bzip2 -s -u vendor@example.invalid --passphrase '' -o plain-bzip2-signed.gpg plain.csv
gpg_ "${to[@]}" -r other@example.invalid -e --throw-keyids -o plain-hidden.gpg plain.csv
gpg_ -r other@example.invalid -e -o other.gpg plain.csv                     # not for us
gpg_ --passphrase x -c -o symmetric.gpg plain.csv                           # passphrase only
gpg_ "${to[@]}" --rfc2440 --cipher-algo 3DES -e -o no-mdc.gpg plain.csv 2>/dev/null   # SED, tag 9
gpg_ -s -u vendor@example.invalid --passphrase '' -a -o signed-only.asc plain.csv    # not encrypted
