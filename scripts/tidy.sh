#!/usr/bin/env bash
# tidy.sh [BUILD_DIR] — runs clang-tidy with the repository's .clang-tidy on every .c file
# of src/ and bench/, two at a time, using BUILD_DIR's compile_commands.json (a configured
# build, default build-tidy, configured here if missing). Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-tidy}
[ -f "$B/compile_commands.json" ] || cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DTERN_TESTS=OFF >/dev/null
out=$(git ls-files 'src/*.c' 'bench/*.c' | xargs -P "$(nproc)" -n 4 clang-tidy -p "$B" --quiet 2>/dev/null |
  grep -E "(warning|error):" || true)
if [ -n "$out" ]; then
  echo "$out"
  echo "tidy: $(echo "$out" | wc -l) findings"
  exit 1
fi
echo "tidy: clean"
