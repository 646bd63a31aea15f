#!/usr/bin/env bash
# Runs every libFuzzer harness built in $1 for $2 seconds each, from its seed corpus
# under tests/fuzz/corpus/<name>/ (copied to a scratch dir so the tree stays clean).
set -euo pipefail
dir=$1; secs=${2:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
fails=0; n=0
for f in "$dir"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f"); n=$((n+1))
  work=$(mktemp -d)
  [ -d "$root/tests/fuzz/corpus/$name" ] && cp -r "$root/tests/fuzz/corpus/$name/." "$work/"
  if "$f" -max_total_time="$secs" -max_len=70000 -rss_limit_mb=2048 "$work" >"$work.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -c '' "$work.log") log lines)"
  else
    echo "fuzz $name: FAILED"; tail -40 "$work.log"; fails=$((fails+1))
  fi
  rm -rf "$work" "$work.log"
done
echo "fuzz: $((n-fails)) passed, $fails failed"
[ $fails -eq 0 ]
