#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fuzz targets of tests/fuzz/ (tests/fuzz/README.md):
#   scripts/fuzz.sh build             configure and build them in build-fuzz/
#   scripts/fuzz.sh replay            build, then run every checked-in input once:
#                                     tests/fuzz/corpus/<target>/ and
#                                     tests/fuzz/regressions/<target>/, under
#                                     ASan/UBSan with halt_on_error; an input slower
#                                     than 1 s fails (libFuzzer -timeout=1)
#   scripts/fuzz.sh run TARGET [SECONDS] [LIBFUZZER-ARGS...]
#                                     fuzz one target (default 600 s) with its corpus
#                                     and dictionary; new inputs go to
#                                     .run/fuzz/<target>/, crashes to .run/fuzz/crashes/
#   scripts/fuzz.sh cmin TARGET [MAX_FILES]
#                                     replace tests/fuzz/corpus/<target>/ by at most
#                                     MAX_FILES (default 100) inputs of it and of
#                                     .run/fuzz/<target>/ covering the most edges
#   scripts/fuzz.sh list              the target names
# The targets link an instrumented Lua 5.4 built with LUA_USE_APICHECK from
# Debian's lua5.4 source package (the version of liblua5.4-dev), fetched with
# apt-get into .run/fuzz/lua-src/ once; it is never committed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build="$root/build-fuzz"
run="$root/.run/fuzz"
targets=(json avro schema expr lua_pipeline lua_push gateway_records http)

usage() {
  echo "usage: scripts/fuzz.sh build | replay | list | run TARGET [SECONDS] [LIBFUZZER-ARGS...]"
  echo "       scripts/fuzz.sh cmin TARGET [MAX_FILES]"
}

# Debian's lua5.4 source, unpacked into $run/lua-src/src. A private apt
# configuration (its own lists and deb-src entries) leaves the system's alone.
lua_source() {
  local dest="$run/lua-src" apt="$run/apt" version tarball
  if [[ -f "$dest/src/lapi.c" ]]; then
    return 0
  fi
  version=$(dpkg-query -W -f='${Version}' liblua5.4-dev 2>/dev/null || true)
  if [[ -z "$version" ]]; then
    echo "fuzz.sh: liblua5.4-dev is not installed; run scripts/setup.sh first" >&2
    return 1
  fi
  rm -rf "$apt" "$dest"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/out"
  # deb-src entries for the Debian archives the system already uses: the
  # deb822 stanzas signed by Debian's archive key, and one-line "deb" entries
  # of a .../debian* archive.
  mkdir -p "$apt/parts"
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk -v RS= '/Signed-By:[ \t]*\/usr\/share\/keyrings\/debian-archive-keyring\.gpg/ &&
      /Types:[^\n]*deb/ { sub(/Types:[^\n]*/, "Types: deb-src"); print $0 "\n" }' "$f"
  done >"$apt/parts/debian-src.sources"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    sed -n 's|^[[:space:]]*deb[[:space:]]\(.*/debian[^[:space:]]*[[:space:]].*\)|deb-src \1|p' "$f"
  done >"$apt/sources.list"
  if [[ ! -s "$apt/parts/debian-src.sources" && ! -s "$apt/sources.list" ]]; then
    echo "fuzz.sh: no Debian archive among the apt sources in /etc/apt to fetch lua5.4's source from" >&2
    return 1
  fi
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root -q)
  echo "fuzz.sh: fetching Debian's lua5.4 source ($version) for the instrumented Lua"
  apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 || {
    cat "$apt/update.log" >&2
    return 1
  }
  # The version of the installed library (else the archive's, should a
  # binary-only rebuild have a version no source has); apt verifies the files
  # against the signed Sources index.
  (cd "$apt/out" && { apt-get "${opts[@]}" source --download-only "lua5.4=$version" ||
    apt-get "${opts[@]}" source --download-only lua5.4; }) >"$apt/source.log" 2>&1 || {
    cat "$apt/source.log" >&2
    return 1
  }
  tarball=$(ls "$apt"/out/lua5.4_*.orig.tar.*)
  mkdir -p "$dest"
  tar -xf "$tarball" -C "$dest" --strip-components=1
  rm -rf "$apt"
  [[ -f "$dest/src/lapi.c" ]] || {
    echo "fuzz.sh: $tarball has no src/lapi.c" >&2
    return 1
  }
}

do_build() {
  lua_source
  local cc=clang
  if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz.sh: clang not found; run scripts/setup.sh --test" >&2
    return 1
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
    -DSLUICE_SANITIZE=ON -DSLUICE_TESTS=OFF -DSLUICE_FUZZ=ON \
    -DSLUICE_FUZZ_LUA_SOURCE="$run/lua-src" >"$run/configure.log" 2>&1 || {
    cat "$run/configure.log" >&2
    return 1
  }
  cmake --build "$build" --target fuzz_targets
}

sanitizer_env() {
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Avro-C's own leaks (the file says why).
  export LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0
}

do_replay() {
  do_build
  sanitizer_env
  local t dirs failed=0 n total=0 started=$SECONDS
  for t in "${targets[@]}"; do
    dirs=()
    for d in "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t"; do
      [[ -d "$d" ]] && [[ -n "$(ls -A "$d")" ]] && dirs+=("$d")
    done
    if [[ ${#dirs[@]} == 0 ]]; then
      echo "fuzz.sh: $t: no corpus" >&2
      failed=1
      continue
    fi
    n=$(find "${dirs[@]}" -type f | wc -l)
    total=$((total + n))
    # -runs=0 runs each input once; -timeout=1 fails an input slower than 1 s.
    # A failing input is copied to .run/fuzz/replay-<target>-crash-<sha1>
    # (libFuzzer would write it into the current directory).
    if "$build/tests/fuzz/fuzz_$t" -runs=0 -timeout=1 -rss_limit_mb=2048 \
      -artifact_prefix="$run/replay-$t-" "${dirs[@]}" \
      >"$run/replay-$t.log" 2>&1; then
      echo "ok    fuzz_$t: $n inputs"
    else
      echo "FAIL  fuzz_$t ($n inputs): see ${run#"$root"/}/replay-$t.log"
      tail -n 40 "$run/replay-$t.log"
      failed=1
    fi
  done
  echo "fuzz.sh: replayed $total inputs in $((SECONDS - started)) s"
  return $failed
}

do_run() {
  local t=${1:-} secs=${2:-600}
  shift 2 || shift $#
  if [[ ! " ${targets[*]} " =~ " $t " ]]; then
    echo "fuzz.sh: unknown target '$t' (scripts/fuzz.sh list)" >&2
    return 2
  fi
  do_build
  sanitizer_env
  mkdir -p "$run/$t" "$run/crashes/$t"
  local dict=()
  [[ -f "tests/fuzz/dict/$t.dict" ]] && dict=(-dict="tests/fuzz/dict/$t.dict")
  # New inputs go to .run/fuzz/<target>/ (first directory); the checked-in
  # corpus is read only.
  nice -n 19 "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=1 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 "${dict[@]}" -artifact_prefix="$run/crashes/$t/" "$@" \
    "$run/$t" "tests/fuzz/corpus/$t"
}

do_cmin() {
  local t=${1:-} max=${2:-100} dir
  if [[ ! " ${targets[*]} " =~ " $t " ]]; then
    echo "fuzz.sh: unknown target '$t' (scripts/fuzz.sh list)" >&2
    return 2
  fi
  do_build
  sanitizer_env
  dir="$run/cmin/$t"
  rm -rf "$dir"
  mkdir -p "$dir/all" "$dir/empty"
  cp "tests/fuzz/corpus/$t"/* "$dir/all/"
  if [[ -d "$run/$t" ]] && [[ -n "$(ls -A "$run/$t")" ]]; then
    cp "$run/$t"/* "$dir/all/"
  fi
  nice -n 19 "$build/tests/fuzz/fuzz_$t" -merge=1 -timeout=1 -rss_limit_mb=2048 \
    -merge_control_file="$dir/control" "$dir/empty" "$dir/all" >"$dir/merge.log" 2>&1 || {
    tail -n 30 "$dir/merge.log" >&2
    return 1
  }
  python3 "$root/tests/fuzz/cmin.py" "$dir/control" "$max" "$dir/out"
  rm -rf "tests/fuzz/corpus/$t"
  mv "$dir/out" "tests/fuzz/corpus/$t"
  rm -rf "$dir"
}

mkdir -p "$run"
case "${1:-}" in
  build) do_build ;;
  replay) do_replay ;;
  run) shift; do_run "$@" ;;
  cmin) shift; do_cmin "$@" ;;
  list) printf '%s\n' "${targets[@]}" ;;
  -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
