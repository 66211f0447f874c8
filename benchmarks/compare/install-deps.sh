#!/usr/bin/env bash
# Installs the Debian 12 packages the comparison needs (make bench-compare):
# Open MPI, Gloo, matplotlib for /usr/bin/python3, iperf3 (the two-rail
# bound), and what the namespace hosts use. Safe to re-run: prints nothing
# and touches nothing when everything is present. MPICH is optional and not
# installed here (apt-get install mpich libmpich-dev adds it as a peer).
set -euo pipefail

packages=(openmpi-bin libopenmpi-dev libgloo-dev python3 python3-matplotlib iperf3 iproute2
          iputils-ping g++ make)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo for: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "benchmarks/compare/install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# iperf3's package asks whether to start a daemon: no.
echo "iperf3 iperf3/start_daemon boolean false" | $sudo debconf-set-selections 2>/dev/null || true
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
