#!/usr/bin/env bash
# Audits the SSH algorithms of ttpgate's SFTP server with ssh-audit
# (Debian package ssh-audit, 2.5: apt-get install -y ssh-audit).
#
# Builds ttpgate, starts `ttpgate serve` on a development setup in a
# temporary folder (on a port the system picks), runs
# `ssh-audit -n -p PORT 127.0.0.1`, prints the report and exits 1 when the
# report has any [fail] line, or any [warn] line other than ssh-audit 2.5 not
# knowing one of the modern algorithms listed in known_new below. Exits 0
# when the report is clean. The server is stopped in every case.
#
# Usage: scripts/ssh-audit.sh   (from anywhere; CI runs it through
# gateway/sshaudit_test.go)
set -euo pipefail
cd "$(dirname "$0")/.."

# Algorithms newer than ssh-audit 2.5, which reports them as
# "[warn] unknown algorithm": post-quantum hybrid key exchange and OpenSSH's
# strict key exchange (the Terrapin countermeasure).
known_new='mlkem768x25519-sha256|kex-strict-s-v00@openssh\.com|sntrup761x25519-sha512|sntrup761x25519-sha512@openssh\.com'

if ! command -v ssh-audit >/dev/null; then
	echo "ssh-audit.sh: ssh-audit is not installed: apt-get install -y ssh-audit" >&2
	exit 1
fi

tmp=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/ttpgate" ./cmd/ttpgate

# The development setup (keys, configuration, example tenants), created by
# the first command that needs it; then every listener on a free port.
mkdir "$tmp/run"
(cd "$tmp/run" && "$tmp/ttpgate" tenants list >/dev/null 2>"$tmp/setup.log") || {
	echo "ssh-audit.sh: creating the development setup failed:" >&2
	cat "$tmp/setup.log" >&2
	exit 1
}
cfg="$tmp/run/ttpgate-data/ttpgate.yaml"
sed -i -E 's/"127\.0\.0\.1:[0-9]+"/"127.0.0.1:0"/g' "$cfg"
if ! grep -q 'sftp: {listen: "127.0.0.1:0"' "$cfg"; then
	echo "ssh-audit.sh: could not set the SFTP port in $cfg:" >&2
	cat "$cfg" >&2
	exit 1
fi

"$tmp/ttpgate" serve --config "$cfg" >"$tmp/serve.out" 2>"$tmp/serve.log" &
pid=$!

# The port, from the server's log line {"msg":"listening",...,"protocol":"sftp","addr":"127.0.0.1:PORT"}.
port=""
for _ in $(seq 300); do
	port=$(grep '"msg":"listening"' "$tmp/serve.log" | grep '"protocol":"sftp"' |
		sed -nE 's/.*"addr":"127\.0\.0\.1:([0-9]+)".*/\1/p' | head -n 1 || true)
	[ -n "$port" ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "ssh-audit.sh: ttpgate serve exited:" >&2
		cat "$tmp/serve.log" >&2
		exit 1
	fi
	sleep 0.1
done
if [ -z "$port" ]; then
	echo "ssh-audit.sh: ttpgate serve did not report its SFTP port within 30 s:" >&2
	cat "$tmp/serve.log" >&2
	exit 1
fi

set +e
report=$(timeout 120 ssh-audit -n -p "$port" 127.0.0.1 2>&1)
rc=$?
set -e
echo "$report"
echo

# ssh-audit exits 0 (good), 2 (warnings), 3 (failures), 1 (connection
# error) or another code on its own errors; only the lines decide the first
# three, the others are failures of the audit itself.
case $rc in
0 | 2 | 3) ;;
*)
	echo "ssh-audit.sh: FAIL: ssh-audit exited $rc: no audit" >&2
	exit 1
	;;
esac
# A report of this server, with every section.
for want in '(gen) banner: SSH-2.0-ttpgate' '(kex) ' '(key) ' '(enc) ' '(mac) '; do
	if ! grep -qF -- "$want" <<<"$report"; then
		echo "ssh-audit.sh: FAIL: the report has no line with \"$want\"" >&2
		exit 1
	fi
done

bad=$(grep -E '\[(fail|warn)\]' <<<"$report" |
	grep -vE "^\((kex|key|enc|mac)\) ($known_new) +-- \[warn\] unknown algorithm\$" || true)
if [ -n "$bad" ]; then
	echo "ssh-audit.sh: FAIL: ssh-audit found weaknesses:" >&2
	echo "$bad" >&2
	exit 1
fi
echo "ssh-audit.sh: OK: no failure and no warning (besides algorithms newer than ssh-audit: $(grep -cE 'unknown algorithm$' <<<"$report"))"
