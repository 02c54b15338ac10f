#!/usr/bin/env bash
# TLS scan of ttpgate's S3 endpoint with testssl.sh (Debian's `testssl`,
# 3.0.x): builds ttpgate, creates a development setup in a temporary folder,
# moves its listeners to free loopback ports, starts `ttpgate serve` and
# scans https://127.0.0.1:PORT. Fails when the scan reports anything
# VULNERABLE, offers SSLv2, SSLv3, TLS 1.0 or TLS 1.1, or offers a NULL,
# anonymous, export, low (DES, RC2, RC4), 3DES/IDEA or CBC cipher.
#
#   scripts/testssl.sh            (from anywhere in the repository)
#   TESTSSL=/path/to/testssl.sh scripts/testssl.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
testssl="${TESTSSL:-testssl}"
command -v "$testssl" >/dev/null || { echo "testssl.sh: $testssl not found (apt-get install -y testssl.sh)" >&2; exit 2; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
	if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a TCP port free on 127.0.0.1 (the kernel's pick).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

echo "testssl.sh: building ttpgate" >&2
(cd "$repo" && go build -o "$work/ttpgate" ./cmd/ttpgate)

# The development setup: `ttpgate tenants list` creates ttpgate-data/.
(cd "$work" && ./ttpgate tenants list >/dev/null 2>"$work/setup.log") || { cat "$work/setup.log" >&2; exit 1; }
cfg="$work/ttpgate-data/ttpgate.yaml"
[[ -f "$cfg" ]] || { echo "testssl.sh: no $cfg after ttpgate tenants list" >&2; exit 1; }
sftp_port="$(free_port)"
s3_port="$(free_port)"
admin_port="$(free_port)"
sed -i \
	-e "s/127\.0\.0\.1:2222/127.0.0.1:$sftp_port/" \
	-e "s/127\.0\.0\.1:8443/127.0.0.1:$s3_port/" \
	-e "s/127\.0\.0\.1:9464/127.0.0.1:$admin_port/" "$cfg"
grep -q "127.0.0.1:$s3_port" "$cfg" || { echo "testssl.sh: could not set the S3 listen address in $cfg" >&2; exit 1; }

(cd "$work" && exec ./ttpgate serve --config ttpgate-data/ttpgate.yaml) >"$work/serve.log" 2>&1 &
server_pid=$!

# Wait for the S3 listener (up to 30 s).
for _ in $(seq 300); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null; then
		break
	fi
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "testssl.sh: ttpgate serve exited:" >&2
		cat "$work/serve.log" >&2
		exit 1
	fi
	sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null || { echo "testssl.sh: S3 endpoint not listening on $s3_port" >&2; cat "$work/serve.log" >&2; exit 1; }

url="https://127.0.0.1:$s3_port"
echo "testssl.sh: scanning $url" >&2
out="$work/testssl.out"
# -p protocols, -s cipher categories, -E every cipher per protocol, -S
# server defaults, -U vulnerabilities; --fast skips the slowest checks.
set +e
"$testssl" --quiet --color 0 --warnings off --fast --sneaky --openssl-timeout 10 \
	-p -s -E -S -U "$url" >"$out" 2>&1
rc=$?
set -e
cat "$out"
if ! grep -q "Testing protocols" "$out"; then
	echo "testssl.sh: the scan did not run (exit $rc)" >&2
	exit 1
fi

fail=0
finding() { echo "FINDING: $*"; fail=1; }

# Anything testssl calls VULNERABLE (it writes "not vulnerable" in lower case).
while IFS= read -r l; do finding "vulnerable: $l"; done < <(grep -E 'VULNERABLE' "$out" || true)

# Old protocols offered ("TLS 1 " is TLS 1.0).
while IFS= read -r l; do finding "old protocol: $l"; done < <(grep -E '^ *(SSLv2|SSLv3|TLS 1|TLS 1\.1) +offered' "$out" || true)

# Weak cipher categories offered (-s).
while IFS= read -r l; do finding "weak cipher category: $l"; done < <(
	grep -E '^ *(NULL ciphers|Anonymous NULL|Export ciphers|LOW: 64 Bit|Triple DES|Obsolete CBC|Obsoleted CBC)' "$out" | grep -v 'not offered' || true)

# Single weak ciphers in the per-protocol list (-E), by IANA name.
while IFS= read -r l; do finding "weak cipher: $l"; done < <(
	grep -E '^ *x[0-9a-f]+ ' "$out" | grep -E '_CBC_|RC4|3DES|_DES_|_NULL_|_anon_|EXPORT|_IDEA_|_RC2_' || true)

echo
echo "=== testssl.sh summary for $url ==="
grep -E '^ *(SSLv2|SSLv3|TLS 1|TLS 1\.1|TLS 1\.2|TLS 1\.3) +(not )?offered' "$out" || true
grep -E '^ *(NULL ciphers|Anonymous NULL|Export ciphers|LOW: 64 Bit|Triple DES|Obsolete|Strong encryption)' "$out" || true
if [[ $fail -ne 0 ]]; then
	echo "testssl.sh: FAILED: see the findings above"
	exit 1
fi
echo "testssl.sh: OK: no vulnerable finding, TLS 1.2+ only, no weak cipher offered"
