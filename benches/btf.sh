#!/usr/bin/env bash
# BTF layout benchmark: vmscope layout --btf beside pahole -F btf, same file, same names,
# one run. Wall time (median of $RUNS) and peak RSS of the whole command.
#   benches/btf.sh [VMLINUX_OR_BTF...]
# Default inputs: the 6.1 fixture vmlinux (its .BTF section) and /sys/kernel/btf/vmlinux.
# BTF needs no index and vmscope keeps no BTF cache, so there is no cold/warm distinction
# beyond the page cache, which is warm after the first run (the median hides that run).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
cargo build --release --quiet
VMSCOPE=${CARGO_TARGET_DIR:-target}/release/vmscope
FIX=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
inputs=("$@")
if [ ${#inputs[@]} -eq 0 ]; then
    inputs=("$FIX/kernels/by-series/6.1/vmlinux" /sys/kernel/btf/vmlinux)
fi

# median wall seconds, median CPU seconds (user+sys) and max RSS (MB), output discarded.
# CPU time is the steadier figure on a loaded machine; wall time is what a user waits.
PERF=
if command -v perf >/dev/null && perf stat -x, -e task-clock true >/dev/null 2>&1; then PERF=1; fi
TIMING=$(mktemp)
trap 'rm -f "$TIMING"' EXIT
measure() {
    local times=() cpus=() rss=0 t u s m
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$TIMING" -f "%e %U %S %M" "$@" >/dev/null 2>&1 || true
        read -r t u s m < <(tail -1 "$TIMING")
        times+=("$t")
        if [ -n "$PERF" ]; then
            # task-clock in ms: finer than time(1)'s centiseconds
            perf stat -x, -e task-clock -o "$TIMING" "$@" >/dev/null 2>&1 || true
            cpus+=("$(awk -F, '/task-clock/ { printf "%.3f", $1 / 1000 }' "$TIMING")")
        else
            cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')")
        fi
        if [ "$m" -gt "$rss" ]; then rss=$m; fi
    done
    local mid=$(( (RUNS + 1) / 2 ))
    printf '%s %s %d\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "${mid}p")" \
        "$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "${mid}p")" "$((rss / 1024))"
}

echo "| input | case | vmscope wall s | cpu s | MB | pahole wall s | cpu s | MB | wall ratio pahole/vmscope |"
echo "|---|---|---|---|---|---|---|---|---|"
for f in "${inputs[@]}"; do
    [ -r "$f" ] || { echo "missing input $f: run ./fixtures/build.sh" >&2; exit 2; }
    late=$("$VMSCOPE" layout --btf "$f" --sizes | tail -1 | cut -f1)
    label=$f
    case $f in */vmlinux) [ "$f" != /sys/kernel/btf/vmlinux ] && label="$(basename "$(dirname "$(readlink -f "$f")")") .BTF" ;; esac
    for c in "task_struct" "maple_arange_64" "$late (last struct)" "no_such_struct_xyz (missing)" "all structs"; do
        name=${c%% *}
        case $c in
            "all structs") v=("$VMSCOPE" layout --btf "$f"); p=(pahole -F btf "$f") ;;
            *) v=("$VMSCOPE" layout --btf "$f" "$name"); p=(pahole -F btf -C "$name" "$f") ;;
        esac
        read -r vt vc vm < <(measure "${v[@]}")
        read -r pt pc pm < <(measure "${p[@]}")
        ratio=$(awk -v a="$pt" -v b="$vt" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')
        echo "| $label | $c | $vt | $vc | $vm | $pt | $pc | $pm | $ratio |"
    done
done
