#!/usr/bin/env bash
# Regenerates the sample files TestDetectFormat reads, with the real age and
# gpg command-line tools. Keys are throwaway: made here, never kept. Run from
# this folder; review the diff like code.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'bsn;client_id;agb_organisatie\n111222333;c-1;12345678\n' >plain.csv
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89' >image.png

age-keygen -o "$tmp/key.txt" 2>/dev/null
recipient=$(age-keygen -y "$tmp/key.txt")
age -r "$recipient" -o sample.age plain.csv
age -r "$recipient" -a -o sample.age.asc plain.csv

export GNUPGHOME="$tmp/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg_() { gpg --batch --quiet --no-tty --pinentry-mode loopback "$@"; }
# symmetric: SKESK (tag 3) then encrypted data
gpg_ --passphrase x -c -o sample.gpg --yes plain.csv
gpg_ --passphrase x -c -a -o sample.gpg.asc --yes plain.csv
# public key: PKESK (tag 1) then encrypted data
gpg_ --passphrase '' --quick-gen-key 'ttpgate test <test@example.invalid>' ed25519 sign,cert never
gpg_ --passphrase '' --quick-add-key "$(gpg_ --list-keys --with-colons | awk -F: '/^fpr/{print $10; exit}')" cv25519 encr never
gpg_ --trust-model always -r test@example.invalid -e -o sample-pubkey.gpg --yes plain.csv
# signed only, not encrypted: a compressed data packet (tag 8) anyone can read
gpg_ --passphrase '' -s -o signed-only.gpg --yes plain.csv
# stored only: a literal data packet (tag 11), plaintext
gpg_ --store -z 0 -o stored-only.gpg --yes plain.csv
# the same, armoured: the armour line of an encrypted message around plaintext
gpg_ --passphrase '' -s -a -o signed-only.gpg.asc --yes plain.csv
gpg_ --store -z 0 -a -o stored-only.gpg.asc --yes plain.csv
# a public key block: not a message
gpg_ --export -a test@example.invalid >pubkey.asc
