#!/usr/bin/env bash
# Measures `ttpgate process` on age-encrypted synthetic ROM extracts of
# 1,000,000 and 4,000,000 rows (override with ROWS="..."): wall time, rows/s,
# peak RSS, and the `age -d` CLI decrypting the same file as the peer to
# compare with. Peak memory must stay below 300 MB and not grow with the file.
# Needs: age, GNU time (apt-get install -y age time).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-"1000000 4000000"}
work=$(mktemp -d /tmp/ttpgate-bench-XXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/ttpgate" ./cmd/ttpgate
bin="$work/ttpgate"

printf '%-9s %10s %9s %10s %10s %12s %14s\n' rows MB process rows/s "peak RSS" "age -d" "process/age-d"
fail=0
for n in $ROWS; do
  dir="$work/run-$n"; mkdir -p "$dir"; cd "$dir"
  "$bin" tenants list >/dev/null 2>&1            # creates the development setup
  "$bin" gen rom --rows "$n" --seed 42 | age -R ttpgate-data/keys/recipient.txt > rom.csv.age
  mb=$(( $(stat -c %s rom.csv.age) / 1000000 ))
  /usr/bin/time -f '%e' -o age.time age -d -i ttpgate-data/keys/processor.agekey rom.csv.age > /dev/null
  "$bin" deliver --tenant vendor-acme rom.csv.age > /dev/null 2>&1
  /usr/bin/time -f '%e %M' -o proc.time "$bin" process > process.out 2> process.log
  read -r secs rss_kb < proc.time
  age_secs=$(cat age.time)
  rss_mb=$(( rss_kb / 1024 ))
  rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%d", n / s }')
  ratio=$(awk -v a="$secs" -v b="$age_secs" 'BEGIN { printf "%.1fx", a / b }')
  printf '%-9s %10s %8ss %10s %8s MB %11ss %14s\n' "$n" "$mb" "$secs" "$rate" "$rss_mb" "$age_secs" "$ratio"
  grep -q "accepted" process.out || { echo "process did not accept the delivery:"; cat process.out; fail=1; }
  [ "$rss_mb" -lt 300 ] || { echo "peak RSS $rss_mb MB is not below 300 MB"; fail=1; }
  cd - > /dev/null
done
exit $fail
