#!/usr/bin/env bash
# Installs the Debian 12 packages Meridian needs to build and test.
# Safe to re-run: does nothing when everything is present.
set -euo pipefail

packages=(cmake gcc g++ ninja-build make pkg-config libspdlog-dev libfmt-dev libgtest-dev libhwloc-dev iproute2 nftables)
# `install-deps.sh fuzz`: also clang and its libFuzzer runtime (make fuzz).
if [[ ${1:-} == fuzz ]]; then packages+=(clang libclang-rt-14-dev); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo for: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
