#!/usr/bin/env bash
# bench.sh BUILD_DIR — runs Tern's standard benchmarks (docs/performance.md) against a
# fresh ternd per run and prints one JSON line per run, then the medians.
#
# Builds nothing: BUILD_DIR must hold ternd and tern-bench (`make bench` builds `build`
# first). Each run starts BUILD_DIR/ternd on a free loopback port with a new temporary
# data directory, reads the port and the demo app's credentials from it, runs
# tern-bench --json --server-pid, then stops ternd (SIGTERM, wait) and removes the
# directory. Workloads are interleaved run by run so slow drifts of a shared machine
# spread over all of them.
#
# Environment (defaults in brackets):
#   BENCH_RUNS [3]            runs per workload
#   BENCH_WORKLOADS ["fanout idle c2c floor floor_uring stream"]
#   BENCH_SECONDS [10]        measured window of fanout/c2c, hold time of idle
#   BENCH_WARMUP [2]          warm-up seconds before the window
#   BENCH_FANOUT_GROUPS [100] BENCH_FANOUT_MEMBERS [10] BENCH_FANOUT_SENDERS [100]
#   BENCH_FANOUT_RATE [5000]  messages/s (x members = deliveries/s)
#                             `fanout_mix` (issue 10; not in the default set): the same
#                             fan-out with sender i sending type i % 5 (text, text @ a
#                             member, custom, location, face; tern-bench --mix); with
#                             fanout in the same run the script prints the ratio of
#                             their server CPU per delivery (fanout_mix_vs_fanout)
#   BENCH_C2C_PAIRS [100]     BENCH_C2C_RATE [20000]
#   BENCH_IDLE_CONNS [10000]
#   BENCH_STREAM_STREAMS [1000] BENCH_STREAM_MEMBERS [10] BENCH_STREAM_RATE [2000]
#   BENCH_STREAM_CHUNKS [20]  BENCH_STREAM_CHUNK_SIZE [40]
#                             the `stream` workload (issue 8): S streamed messages open at
#                             once from a backend over keep-alive HTTP to groups of M online
#                             members, chunks at R/s in total over ceil(R/90) apps (created
#                             with ternd's admin token), then plain group POSTs of the same
#                             size at the same rate in the same run; its line carries
#                             cpu_ratio_chunk_vs_plain and server_rss_kib_per_stream
#   BENCH_MEDIA_SIZE [104857600] BENCH_MEDIA_REPS [3] BENCH_MEDIA_UPLOADERS [100]
#   BENCH_MEDIA_UPLOAD_SIZE [1048576] BENCH_MEDIA_UPLOAD_RATE [0]
#                             the `media` workload (issue 9; not in the default set): a
#                             100 MiB upload and download against a plain loopback copy
#                             made by tern-bench into ternd's data directory (ratios
#                             upload_ratio, download_ratio), ternd's RSS growth during
#                             each, the fan-out for 3 x BENCH_SECONDS: alone, beside
#                             the uploaders uploading back to back (or at most
#                             BENCH_MEDIA_UPLOAD_RATE files/s) to a plain sink of
#                             tern-bench (the control), then to ternd: p99_ms,
#                             p99_plain_uploads_ms, p99_uploads_ms, lost_*; and
#                             tern_img_probe's ns per image (probe_ns_*)
#   BENCH_FLOOR_CONNS [1000]  BENCH_FLOOR_RATE [50000]  BENCH_FLOOR_SIZE [505]
#                             the `floor` workload runs without ternd: the kernel's cost
#                             of one loopback write (of a fan-out delivery's frame size)
#                             per delivery to as many sockets as fanout's receivers, the
#                             baseline for server_cpu_us_per_delivery; with fanout in
#                             the same run the script prints their ratio last;
#                             floor_uring is the same with each 1 ms tick's writes in
#                             one io_uring submission, as ternd's loops send by default
#   BENCH_THREADS [1]         tern-bench client threads
#   BENCH_ARGS []             extra tern-bench arguments (all workloads)
#   TERND_ARGS []             extra ternd arguments
#   BENCH_OUT []              also append every JSON line to this file
#   BENCH_QUIET_PCT [25]      before each run, wait until the machine is less busy than
#   BENCH_QUIET_WAIT [30]     this (% of one core, over 1 s), at most this many seconds
#                             (the box is shared; the peers' suite did the same)
set -euo pipefail

BUILD=${1:-build}
TERND="$BUILD/ternd"
BENCH="$BUILD/tern-bench"
for f in "$TERND" "$BENCH"; do
  [ -x "$f" ] || { echo "bench.sh: $f not found; build first (make bench)" >&2; exit 2; }
done

RUNS=${BENCH_RUNS:-3}
WORKLOADS=${BENCH_WORKLOADS:-"fanout idle c2c floor floor_uring stream"}
SECONDS_=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
THREADS=${BENCH_THREADS:-1}
OUT=${BENCH_OUT:-}

# Both processes need one descriptor per connection (19k needs the 20000 hard limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=""
TERND_PID=""
RESULTS=$(mktemp)

stop_ternd() {
  if [ -n "$TERND_PID" ] && kill -0 "$TERND_PID" 2>/dev/null; then
    kill -TERM "$TERND_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$TERND_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$TERND_PID" 2>/dev/null; then
      echo "bench.sh: ternd did not stop in 10 s; SIGKILL" >&2
      kill -KILL "$TERND_PID" 2>/dev/null || true
    fi
    wait "$TERND_PID" 2>/dev/null || true
  fi
  TERND_PID=""
  if [ -n "$TMP" ]; then rm -rf "$TMP"; fi
  TMP=""
}
cleanup() { stop_ternd; rm -f "$RESULTS"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts ternd on a free port; sets PORT and TERND_PID.
start_ternd() {
  TMP=$(mktemp -d /tmp/tern-bench.XXXXXX)
  # The seed's group rates (40 msgs/s a group, 200 REST group sends/s an app) are off:
  # the workloads measure capacity. shellcheck disable=SC2086 (TERND_ARGS splits)
  # shellcheck disable=SC2086
  # The seed's group rates off (capacity workloads); an older ternd (ab.sh) has no such flags.
  rates_off=""
  "$TERND" --help 2>&1 | grep -q -- --group-msg-rate && rates_off="--group-msg-rate 0 --rest-group-send-rate 0"
  "$TERND" --listen 127.0.0.1:0 --data "$TMP" --log-level warn $rates_off ${TERND_ARGS:-} 2>"$TMP/ternd.log" &
  TERND_PID=$!
  PORT=""
  for _ in $(seq 1 300); do
    if [ -s "$TMP/ternd.port" ] && [ -s "$TMP/demo-app.json" ]; then
      PORT=$(tr -dc '0-9' <"$TMP/ternd.port")
    elif grep -q 'listening on' "$TMP/ternd.log" 2>/dev/null && [ -s "$TMP/demo-app.json" ]; then
      PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/ternd.log" | head -n1)
    fi
    [ -n "$PORT" ] && break
    kill -0 "$TERND_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then
    echo "bench.sh: ternd did not start; its log:" >&2
    cat "$TMP/ternd.log" >&2 || true
    return 1
  fi
}

# Busy CPU of the whole machine over one second, in % of one core.
machine_busy() {
  local a b
  read -r -a a < <(head -n1 /proc/stat)
  sleep 1
  read -r -a b < <(head -n1 /proc/stat)
  local busy=0 total=0 i d
  for i in 1 2 3 4 5 6 7 8; do
    d=$(( ${b[$i]:-0} - ${a[$i]:-0} ))
    total=$((total + d))
    if [ "$i" -ne 4 ] && [ "$i" -ne 5 ]; then busy=$((busy + d)); fi
  done
  [ "$total" -gt 0 ] || { echo 0; return; }
  echo $(( busy * 100 * $(nproc) / total ))
}

wait_quiet() {
  local limit=${BENCH_QUIET_PCT:-25} wait=${BENCH_QUIET_WAIT:-30} busy=0 t=0
  while [ "$t" -lt "$wait" ]; do
    busy=$(machine_busy)
    [ "$busy" -lt "$limit" ] && return 0
    t=$((t + 1))
  done
  echo "bench.sh: machine still ${busy}% busy after ${wait}s; running anyway (see other_cpu_pct)" >&2
}

run_one() {
  local wl=$1 run=$2
  local args=(--json -q --threads "$THREADS" --duration "$SECONDS_")
  case $wl in
    fanout|fanout_mix)
            args+=(--groups "${BENCH_FANOUT_GROUPS:-100}" --members "${BENCH_FANOUT_MEMBERS:-10}"
                   --senders "${BENCH_FANOUT_SENDERS:-100}" --rate "${BENCH_FANOUT_RATE:-5000}"
                   --warmup "$WARMUP")
            [ "$wl" = fanout_mix ] && args+=(--mix) ;;
    c2c)    args+=(--pairs "${BENCH_C2C_PAIRS:-100}" --rate "${BENCH_C2C_RATE:-20000}" --warmup "$WARMUP") ;;
    idle)   args+=(--connections "${BENCH_IDLE_CONNS:-10000}") ;;
    stream) args+=(--streams "${BENCH_STREAM_STREAMS:-1000}" --members "${BENCH_STREAM_MEMBERS:-10}"
                   --rate "${BENCH_STREAM_RATE:-2000}" --chunks "${BENCH_STREAM_CHUNKS:-20}"
                   --chunk-size "${BENCH_STREAM_CHUNK_SIZE:-40}" --warmup "$WARMUP") ;;
    media)  args+=(--groups "${BENCH_FANOUT_GROUPS:-100}" --members "${BENCH_FANOUT_MEMBERS:-10}"
                   --senders "${BENCH_FANOUT_SENDERS:-100}" --rate "${BENCH_FANOUT_RATE:-5000}"
                   --warmup "$WARMUP" --file-size "${BENCH_MEDIA_SIZE:-104857600}"
                   --reps "${BENCH_MEDIA_REPS:-3}" --uploaders "${BENCH_MEDIA_UPLOADERS:-100}"
                   --upload-size "${BENCH_MEDIA_UPLOAD_SIZE:-1048576}"
                   --upload-rate "${BENCH_MEDIA_UPLOAD_RATE:-0}") ;;
    floor|floor_uring)
            args+=(--connections "${BENCH_FLOOR_CONNS:-1000}" --rate "${BENCH_FLOOR_RATE:-50000}"
                   --frame-size "${BENCH_FLOOR_SIZE:-505}" --warmup "$WARMUP")
            [ "$wl" = floor_uring ] && args+=(--uring) ;;
    *) echo "bench.sh: unknown workload $wl" >&2; return 1 ;;
  esac
  wait_quiet
  local line rc=0
  if [ "$wl" = floor ] || [ "$wl" = floor_uring ]; then
    # No server: tern-bench forks its own writer.
    # shellcheck disable=SC2086
    line=$("$BENCH" floor "${args[@]}" ${BENCH_ARGS:-}) || rc=$?
  else
    start_ternd || return 1
    # shellcheck disable=SC2086
    line=$("$BENCH" "${wl%_mix}" --url "ws://127.0.0.1:$PORT" --app-file "$TMP/demo-app.json" \
           --server-pid "$TERND_PID" "${args[@]}" ${BENCH_ARGS:-}) || rc=$?
    if ! kill -0 "$TERND_PID" 2>/dev/null; then
      echo "bench.sh: ternd died during $wl run $run; its log:" >&2
      tail -n 30 "$TMP/ternd.log" >&2 || true
    fi
    stop_ternd
  fi
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    echo "bench.sh: $wl run $run failed (tern-bench exit $rc)" >&2
    return 1
  fi
  echo "$line"
  echo "$line" >>"$RESULTS"
  [ -n "$OUT" ] && echo "$line" >>"$OUT"
  return 0
}

echo "# tern-bench: $RUNS run(s) of: $WORKLOADS; window ${SECONDS_}s; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
failed=0
for run in $(seq 1 "$RUNS"); do
  for wl in $WORKLOADS; do
    echo "# $wl run $run/$RUNS" >&2
    run_one "$wl" "$run" || failed=$((failed + 1))
  done
done

# Medians per workload: one JSON line each (numeric fields; null if no run had a value),
# then a short human table.
KEYS="sent_per_s delivered_per_s lost duplicates errors p50_ms p90_ms p99_ms p999_ms max_ms ack_p50_ms ack_p99_ms ack_max_ms server_cpu_pct server_cpu_us_per_delivery server_cpu_us_per_msg server_rss_kib server_rss_kib_per_conn connects_per_s connect_p99_ms server_cpu_ms_per_connect bench_cpu_pct send_lag_max_ms other_cpu_pct writes_per_s writer_cpu_pct writer_cpu_us_per_delivery reader_cpu_pct plain_p50_ms plain_p99_ms server_cpu_us_per_chunk server_cpu_us_per_plain_msg cpu_ratio_chunk_vs_plain server_rss_kib_per_stream stream_text_bytes_mean upload_mib_s upload_baseline_mib_s upload_ratio download_mib_s download_baseline_mib_s download_ratio upload_server_cpu_ms download_server_cpu_ms upload_rss_growth_kib download_rss_growth_kib p50_uploads_ms p99_uploads_ms max_uploads_ms lost_uploads delivered_per_s_uploads server_cpu_pct_uploads machine_busy_pct machine_busy_pct_uploads uploads_done upload_errors uploads_mib_s upload_p50_ms upload_p99_ms p50_plain_uploads_ms p99_plain_uploads_ms max_plain_uploads_ms lost_plain_uploads delivered_per_s_plain_uploads server_cpu_pct_plain_uploads machine_busy_pct_plain_uploads plain_uploads_done plain_upload_errors plain_uploads_mib_s plain_upload_p50_ms plain_upload_p99_ms grant_p50_ms grant_max_ms grant_p50_plain_uploads_ms grant_max_plain_uploads_ms grant_p50_uploads_ms grant_max_uploads_ms probe_ns_jpeg probe_ns_png probe_ns_gif probe_ns_webp probe_ns_bmp"
echo "# medians of $RUNS run(s)"
MEDIANS=$(mktemp)
for wl in $WORKLOADS; do
  grep "\"workload\":\"$wl\"" "$RESULTS" | awk -v wl="$wl" -v keys="$KEYS" '
    function val(line, key,   m) {
      if (match(line, "\"" key "\":[^,}]*")) {
        m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
        return m
      }
      return "null"
    }
    { lines[NR] = $0 }
    END {
      if (NR == 0) exit
      nk = split(keys, K, " ")
      out = "{\"workload\":\"" wl "\",\"runs\":" NR ",\"median\":true"
      for (k = 1; k <= nk; k++) {
        n = 0
        for (i = 1; i <= NR; i++) {
          v = val(lines[i], K[k])
          if (v != "null" && v != "") vals[++n] = v + 0
        }
        if (n == 0) { out = out ",\"" K[k] "\":null"; continue }
        for (i = 2; i <= n; i++) {           # insertion sort
          x = vals[i]; j = i - 1
          while (j >= 1 && vals[j] > x) { vals[j + 1] = vals[j]; j-- }
          vals[j + 1] = x
        }
        med = (n % 2) ? vals[(n + 1) / 2] : (vals[n / 2] + vals[n / 2 + 1]) / 2
        out = out ",\"" K[k] "\":" sprintf("%.6g", med)
      }
      print out "}"
    }' | tee -a "$MEDIANS"
done
# The server's CPU per fan-out delivery against the floor measured in the same run.
fan=$(grep '"workload":"fanout"' "$MEDIANS" | sed -n 's/.*"server_cpu_us_per_delivery":\([0-9.e+-]*\).*/\1/p' || true)
for fl in floor floor_uring; do
  flo=$(grep "\"workload\":\"$fl\"" "$MEDIANS" | sed -n 's/.*"writer_cpu_us_per_delivery":\([0-9.e+-]*\).*/\1/p' || true)
  if [ -n "$fan" ] && [ -n "$flo" ]; then
    awk -v a="$fan" -v b="$flo" -v fl="$fl" 'BEGIN { if (b > 0) printf "{\"workload\":\"fanout_vs_%s\",\"server_cpu_us_per_delivery\":%s,\"floor_us_per_delivery\":%s,\"ratio\":%.3g}\n", fl, a, b, a / b }'
  fi
done
# The mixed-type fan-out against text only (issue 10: within the noise).
mix=$(grep '"workload":"fanout_mix"' "$MEDIANS" | sed -n 's/.*"server_cpu_us_per_delivery":\([0-9.e+-]*\).*/\1/p' || true)
if [ -n "$fan" ] && [ -n "$mix" ]; then
  awk -v a="$mix" -v b="$fan" 'BEGIN { if (b > 0) printf "{\"workload\":\"fanout_mix_vs_fanout\",\"server_cpu_us_per_delivery_mix\":%s,\"server_cpu_us_per_delivery_text\":%s,\"ratio\":%.3g}\n", a, b, a / b }'
fi
rm -f "$MEDIANS"
[ $failed -eq 0 ] || { echo "bench.sh: $failed run(s) failed" >&2; exit 1; }
