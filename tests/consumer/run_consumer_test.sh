#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds this consumer project
# against it with CMake and with pkg-config, and runs both under the
# installed mrdrun with 4 ranks.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/mrd_consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
libdir=$(dirname "$(find "$work/prefix" -name libmeridian.so | head -1)")
export LD_LIBRARY_PATH=$libdir
PKG_CONFIG_PATH=$libdir/pkgconfig cc -std=c99 -Wall -Wextra -Werror "$src/main.c" \
  $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs meridian) -o "$work/consumer_pc"
out=$("$work/prefix/bin/mrdrun" -np 4 --timeout 60 "$work/build/consumer")
echo "$out"
[ "$(echo "$out" | grep -c 'of 4: 6')" -eq 4 ]
out=$("$work/prefix/bin/mrdrun" -np 2 --timeout 60 "$work/consumer_pc")
[ "$(echo "$out" | grep -c 'of 2: 1')" -eq 2 ]
echo "consumer: installed package works (CMake and pkg-config)"
