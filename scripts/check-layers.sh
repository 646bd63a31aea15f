#!/usr/bin/env bash
# check-layers.sh — holds the one direction of calls (docs/architecture.md, "Layers"):
# every #include "..." in src/ must point to the same layer or a lower one, and the
# modules (a .c/.h pair named alike) must form no include cycle. Run by `make test`.
#
# Layers, lowest first (a file's layer is the first pattern its path matches):
#   0 include/tern, src/core     shared by ternd, libtern and tern-bench
#   1 src/net                    sockets, HTTP, WebSocket framing: knows no users, no JSON
#   2 src/server/store, src/server/bus      persistence, cross-node delivery, the session registry
#   3 src/server (domain)        messages, delivery, groups, apps, metrics
#   4 src/server/rest, handlers  REST resources, WebSocket session, glue
#   5 src/server/server.c, main.c  wiring (server.h is its lifecycle; context.h, the shared context, is domain)
#   sdk, cli sit above core only.
set -euo pipefail
cd "$(dirname "$0")/.."

rank() { # path -> layer rank (see above); unknown paths print "?"
  case "$1" in
    include/tern/*|src/core/*) echo 0 ;;
    src/net/*) echo 1 ;;
    src/server/store/*|src/server/bus/*) echo 2 ;;
    src/server/rest/*|src/server/session*|src/server/ws_*|src/server/handlers*) echo 4 ;;
    src/server/server.c|src/server/main.c) echo 5 ;;
    src/server/*) echo 3 ;;
    src/sdk/*) echo 6 ;;
    src/cli/*) echo 7 ;;
    *) echo "?" ;;
  esac
}

resolve() { # including file, include text -> repository path or "" (system/other)
  local from=$1 inc=$2 d
  d=$(dirname "$from")
  for cand in "$d/$inc" "src/$inc" "include/$inc" "src/server/$inc"; do
    [ -f "$cand" ] && { realpath --relative-to=. "$cand"; return; }
  done
  echo ""
}

fail=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
while IFS= read -r f; do
  rf=$(rank "$f")
  while IFS= read -r inc; do
    [ -n "$inc" ] || continue
    t=$(resolve "$f" "$inc")
    [ -n "$t" ] || continue
    rt=$(rank "$t")
    if [ "$rf" != "?" ] && [ "$rt" != "?" ] && [ "$rt" -gt "$rf" ] && [ "$rt" -lt 6 ]; then
      echo "layer violation: $f (layer $rf) includes $t (layer $rt)"
      fail=1
    fi
    if [ "$rf" -ge 6 ] 2>/dev/null && [ "$rt" -ge 1 ] && [ "$rt" -le 5 ]; then
      echo "layer violation: $f (sdk/cli) includes server/net file $t"
      fail=1
    fi
    a=${f%.*}; b=${t%.*}
    [ "$a" = "$b" ] || echo "$a $b" >>"$edges"
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done < <(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 2>/dev/null || find src include -name '*.[ch]')

# Module cycles: tsort names a cycle on stderr.
cyc=$(sort -u "$edges" | tsort 2>&1 >/dev/null || true)
if [ -n "$cyc" ]; then
  echo "include cycle among modules:"
  echo "$cyc" | sed 's/^tsort: /  /'
  fail=1
fi
[ $fail -eq 0 ] && echo "check-layers: ok"
exit $fail
