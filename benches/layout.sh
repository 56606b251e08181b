#!/usr/bin/env bash
# vmscope layout vs pahole -F dwarf, side by side in one run: wall time (hyperfine, mean of
# RUNS runs) and peak RSS (/usr/bin/time), cold (empty vmscope index cache) and warm.
#
#   benches/layout.sh [VMLINUX]      (default: the 6.1 fixture kernel)
#   RUNS=5 VMSCOPE_BIN=target/release/vmscope benches/layout.sh
#   ZLIB_ONLY=1 ZLIB_VMLINUX=copy benches/layout.sh   (only the compressed comparison, on an
#                                   existing objcopy'd copy instead of making one)
#
# "cold" means vmscope's on-disk index cache is empty; the vmlinux itself stays in the page
# cache for both tools (dropping it would disturb other work on the machine). pahole has no
# cache, so its cold and warm runs are the same thing.
set -euo pipefail
cd "$(dirname "$0")/.."

root=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
VMLINUX=${1:-$(ls "$root"/kernels/6.1*/vmlinux 2>/dev/null | head -1)}
[ -r "$VMLINUX" ] || { echo "no vmlinux (run ./fixtures/build.sh or pass one)" >&2; exit 2; }
BIN=${VMSCOPE_BIN:-target/release/vmscope}
[ -x "$BIN" ] || cargo build --release -q
RUNS=${RUNS:-3}
command -v pahole >/dev/null || { echo "pahole missing: apt-get install dwarves" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine missing: apt-get install hyperfine" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache="$work/xdg"
# the struct first defined last in the unit order (one of the last compilation units)
late=$(XDG_CACHE_HOME="$cache" "$BIN" layout --vmlinux "$VMLINUX" --sizes | tail -1 | cut -f1)

cases=("task_struct" "maple_arange_64" "$late" "no_such_struct_xyz" "ALL")

rss() { # peak RSS in MB of a command
    /usr/bin/time -f "%M" "$@" >/dev/null 2>"$work/rss" || true
    awk 'END { printf "%.0f", $1 / 1024 }' "$work/rss"
}

wall() { # mean wall seconds of a command line; $2 = hyperfine --prepare command or ""
    local prep=()
    [ -n "$2" ] && prep=(--prepare "$2")
    hyperfine -N -i --style none --runs "$RUNS" "${prep[@]}" --export-json "$work/h.json" "$1" >/dev/null 2>&1
    python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/h.json"
}

echo "vmlinux: $VMLINUX"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(pahole --version), runs: $RUNS"
late_only() { [ -n "${ZLIB_ONLY:-}" ]; }
late_only || {
echo
echo "| case | pahole s | vmscope cold s | vmscope warm s | pahole/cold | pahole/warm | pahole MB | cold MB | warm MB |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in "${cases[@]}"; do
    if [ "$c" = ALL ]; then
        p="pahole -F dwarf $VMLINUX"
        v="env XDG_CACHE_HOME=$cache $BIN layout --vmlinux $VMLINUX"
        label="all structs"
    else
        p="pahole -F dwarf -C $c $VMLINUX"
        v="env XDG_CACHE_HOME=$cache $BIN layout --vmlinux $VMLINUX $c"
        label="$c"
    fi
    pw=$(wall "$p" "")
    cw=$(wall "$v" "rm -rf $cache")
    "$BIN" --version >/dev/null
    $v >/dev/null 2>&1 || true   # fill the cache
    ww=$(wall "$v" "")
    pm=$(rss $p)
    rm -rf "$cache"; cm=$(rss $v)
    wm=$(rss $v)
    r1=$(python3 -c "print('%.1f' % ($pw / max($cw, 1e-4)))")
    r2=$(python3 -c "print('%.0f' % ($pw / max($ww, 1e-4)))")
    echo "| $label | $pw | $cw | $ww | ${r1}x | ${r2}x | $pm | $cm | $wm |"
done
}

# The same vmlinux with SHF_COMPRESSED zlib debug sections: cold lookup of the late struct
# (decompression included) next to the uncompressed one; the target is at most 2x. 6.1
# fixture, 2 cores, quiet (see docs/performance.md): 0.385 s vs 0.205 s = 1.88x (3.27x before
# the index scan followed the inflating thread, 2.08x before a second thread populated the
# output pages ahead of the inflater).
echo
zlib=${ZLIB_VMLINUX:-$work/vmlinux.zlib}
[ -n "${ZLIB_VMLINUX:-}" ] || objcopy --compress-debug-sections=zlib "$VMLINUX" "$zlib"
echo "| cold lookup of $late | uncompressed s | zlib s | zlib/uncompressed |"
echo "|---|---|---|---|"
u=$(wall "env XDG_CACHE_HOME=$cache $BIN layout --vmlinux $VMLINUX $late" "rm -rf $cache")
z=$(wall "env XDG_CACHE_HOME=$cache $BIN layout --vmlinux $zlib $late" "rm -rf $cache")
echo "| $late | $u | $z | $(python3 -c "print('%.2f' % ($z / max($u, 1e-4)))")x |"
