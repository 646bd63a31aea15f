#!/usr/bin/env bash
# ab.sh OLD_DIR NEW_DIR — alternates two ternd builds in one benchmark series: ROUNDS
# rounds (default 3), each running scripts/bench.sh once (BENCH_RUNS=1) against OLD_DIR's
# ternd and then NEW_DIR's, both driven by NEW_DIR's tern-bench, so a change is compared
# under the same machine conditions. Raw lines go to OUT_DIR/{old,new}.jsonl (default a
# new temporary directory, printed), then the medians of the main figures are printed.
# BENCH_WORKLOADS and the other bench.sh variables pass through.
set -euo pipefail
OLD=$1; NEW=$2
ROUNDS=${ROUNDS:-3}
OUT=${OUT_DIR:-$(mktemp -d /tmp/tern-ab.XXXXXX)}
here=$(cd "$(dirname "$0")" && pwd)
oldbin=$(mktemp -d /tmp/tern-ab-old.XXXXXX)
trap 'rm -rf "$oldbin"' EXIT
ln -s "$(realpath "$OLD/ternd")" "$oldbin/ternd"
ln -s "$(realpath "$NEW/tern-bench")" "$oldbin/tern-bench"
echo "# ab.sh: $ROUNDS rounds, raw lines in $OUT" >&2
for i in $(seq 1 "$ROUNDS"); do
  for v in old new; do
    d=$oldbin; [ "$v" = new ] && d=$NEW
    echo "# round $i: $v" >&2
    BENCH_RUNS=1 BENCH_OUT="$OUT/$v.jsonl" "$here/bench.sh" "$d" >/dev/null
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
keys = [("fanout", "server_cpu_us_per_delivery"), ("fanout", "p99_ms"), ("c2c", "delivered_per_s"),
        ("c2c", "p99_ms"), ("c2c", "server_cpu_us_per_msg"), ("idle", "server_rss_kib_per_conn"),
        ("floor_uring", "writer_cpu_us_per_delivery"), ("media", "upload_ratio"), ("media", "download_ratio"),
        ("media", "upload_rss_growth_kib")]
rows = {v: [json.loads(l) for l in open(f"{out}/{v}.jsonl")] for v in ("old", "new")}
for wl, k in keys:
    line = f"{wl:12s} {k:28s}"
    for v in ("old", "new"):
        xs = [r[k] for r in rows[v] if r["workload"] == wl and r.get(k) is not None]
        if xs:
            line += f"  {v} {statistics.median(xs):9.2f} ({min(xs):.2f}-{max(xs):.2f})"
    print(line)
for v in ("old", "new"):
    f = [r["server_cpu_us_per_delivery"] for r in rows[v] if r["workload"] == "fanout"]
    u = [r["writer_cpu_us_per_delivery"] for r in rows[v] if r["workload"] == "floor_uring"]
    if f and u and len(f) == len(u):
        print(f"fanout/floor_uring {v}: " + " ".join(f"{a / b:.2f}" for a, b in zip(f, u)))
PY
