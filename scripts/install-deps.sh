#!/usr/bin/env bash
# Installs the Debian packages Tern builds and tests with, only those missing.
# Runs apt-get through sudo when not root. Safe to run repeatedly.
# --test adds what only the tests use: headless Chromium (it_browser loads signed media
# URLs through a real <img src>) and gdb (the harness prints a hung ternd's stacks).
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang clang-tidy libclang-rt-14-dev
      libuv1-dev node-llhttp libcjson-dev liburing-dev libsqlite3-dev libssl-dev
      libcurl4-openssl-dev libcmocka-dev libvips-dev sqlite3 curl)
[ "${1:-}" = "--test" ] && pkgs+=(chromium gdb)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
