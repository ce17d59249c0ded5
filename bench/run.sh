#!/usr/bin/env bash
# The benchmark suite in one command: installs Debian's nginx and a font for the chart if they are
# missing, builds the release binary, and runs `kopir bench` (direct, nginx, gateway miss, gateway
# hit, alternating). Extra arguments go to `kopir bench`, e.g. --seconds 20 --rounds 3.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

cargo build --release --bin kopir
RUST_LOG="${RUST_LOG:-error}" ./target/release/kopir bench --out bench-out "$@"
