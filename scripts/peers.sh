#!/usr/bin/env bash
# peers.sh BUILD_DIR A|B [driver options] — runs ternd through the peers' own load driver
# and workloads (../shared/peers: mosquitto, NATS, ejabberd were measured with it), so
# the figures sit side by side with results/summary.md there. Needs that directory and
# its node_modules (`npm ci` in it). Starts BUILD_DIR/ternd on port 18100 with a fresh
# data directory via the peers' run.sh (`custom` peer, private network namespace), with
# the driver bench/peers/bench-tern.mjs. Results are appended to
# $PEERS_DIR/results/tern-<A|B>.jsonl (set RESULTS=dir to put them elsewhere).
set -euo pipefail
BUILD=$(cd "${1:?build dir}" && pwd); WL=${2:?workload A or B}; shift 2
HERE=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$(cd "$HERE/../shared/peers" && pwd)}
[ -d "$PEERS_DIR/node_modules" ] || { echo "peers.sh: run npm ci in $PEERS_DIR first" >&2; exit 2; }
DATA=$(mktemp -d /tmp/tern-peers.XXXXXX)
trap 'rm -rf "$DATA"' EXIT
export PEERS_DIR TERN_APP_FILE="$DATA/demo-app.json"
SERVER_CMD="$BUILD/ternd --listen 127.0.0.1:18100 --data $DATA --log-level warn --group-msg-rate 0 --rest-group-send-rate 0" SERVER_PORT=18100 \
  LABEL=${LABEL:-tern} DRIVER="$HERE/bench/peers/bench-tern.mjs" URL=ws://127.0.0.1:18100/ws \
  bash "$PEERS_DIR/run.sh" custom "$WL" "$@"
