#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds sluice with Ninja, out of source:
#   scripts/build.sh          Release build in build/
#   scripts/build.sh --asan   Debug build with AddressSanitizer and
#                             UndefinedBehaviorSanitizer in build-asan/
# Safe to rerun: an existing build tree is reused (incremental build), unless
# it was configured with another generator, which CMake cannot switch.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DSLUICE_SANITIZE=OFF)
for arg in "$@"; do
  case "$arg" in
    --asan)
      dir=build-asan
      cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON)
      ;;
    -h | --help) echo "usage: scripts/build.sh [--asan]"; exit 0 ;;
    *) echo "build.sh: unknown option '$arg' (usage: scripts/build.sh [--asan])" >&2; exit 2 ;;
  esac
done

for tool in cmake ninja pkg-config cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build.sh: '$tool' not found; run scripts/setup.sh first" >&2
    exit 1
  fi
done

cache="$root/$dir/CMakeCache.txt"
if [[ -f "$cache" ]] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$cache"; then
  echo "build.sh: $dir/ was configured with another generator; reconfiguring it with Ninja"
  rm -rf "$root/$dir/CMakeCache.txt" "$root/$dir/CMakeFiles"
fi

cmake -S "$root" -B "$root/$dir" -G Ninja "${cmake_args[@]}"
cmake --build "$root/$dir"
echo "build.sh: built $dir/sluice"
