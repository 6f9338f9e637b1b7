#!/usr/bin/env bash
# A plugin built out of tree, as a user would: install sluice into a fresh
# prefix, compile a plugin with `pkg-config --cflags sluice` only, and run a
# pipeline that loads it with sl.plugin(). Plugins load only from directories
# the operator allows: refused without --plugin-dir / SLUICE_PLUGIN_PATH.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SLUICE_BUILD_DIR:-$top/build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
cflags=$(pkg-config --cflags sluice)
# shellcheck disable=SC2086
cc $cflags -shared -Wall -Werror -o "$work/scale.so" "$top/tests/plugins/scale_plugin.c"

printf '{"x":2}\n{"x":"no"}\n{"x":4.5}\n' >"$work/in.jsonl"
cat >"$work/p.lua" <<LUA
local sl = require "sluice"
sl.plugin("scale.so")
local p = sl.pipeline { name = "oot" }
p:file_source { path = "in.jsonl" }:scale { field = "x", factor = 2 }:file_sink { path = "out.jsonl" }
p:dead_letter { path = "dlq.jsonl" }
LUA
if "$work/prefix/bin/sluice" check "$work/p.lua" 2>"$work/log"; then
  echo "plugin_out_of_tree: a plugin outside the allowed directories loaded"; exit 1
fi
grep -q "p.lua:2: plugin .*scale.so refused: .* is not an allowed plugin directory (allowed: none); .*--plugin-dir" "$work/log" ||
  { echo "plugin_out_of_tree: unexpected refusal:"; cat "$work/log"; exit 1; }
code=0
SLUICE_PLUGIN_PATH="$work:/nonexistent/plugins" "$work/prefix/bin/sluice" check "$work/p.lua" 2>"$work/log" || code=$?
[ "$code" = 2 ] || { echo "plugin_out_of_tree: a missing plugin directory gave exit $code, not 2"; exit 1; }
SLUICE_PLUGIN_PATH="/tmp:$work" "$work/prefix/bin/sluice" check "$work/p.lua" >/dev/null 2>"$work/log" ||
  { cat "$work/log"; exit 1; }
"$work/prefix/bin/sluice" run "$work/p.lua" --api off --plugin-dir "$work" 2>"$work/log" || { cat "$work/log"; exit 1; }
expected=$'{"x":4.0}\n{"x":9.0}'
if [ "$(cat "$work/out.jsonl")" != "$expected" ]; then
  echo "plugin_out_of_tree: unexpected output:"; cat "$work/out.jsonl"; exit 1
fi
grep -q '"reason":"eval"' "$work/dlq.jsonl" || { echo "plugin_out_of_tree: no dead letter"; exit 1; }
echo "plugin_out_of_tree: ok"
