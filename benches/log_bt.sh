#!/usr/bin/env bash
# log and bt benchmark: vmscope beside drgn 0.3.0 (the fixtures venv), same dump, one run.
# Wall and CPU time (median of $RUNS) and peak RSS of the whole command, drgn's start-up (loading the
# vmlinux's DWARF) included, as a user waits for it.
#   benches/log_bt.sh [DUMP_NAME...]      default: 6.1 6.1-panic
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
cargo build --release --quiet
command -v perf >/dev/null || { echo "needs perf (linux-perf) for CPU times" >&2; exit 2; }
VMSCOPE=${CARGO_TARGET_DIR:-target}/release/vmscope
FIX=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
PY=$FIX/venv/bin/python
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(6.1 6.1-panic)
TIMING=$(mktemp)
trap 'rm -f "$TIMING"' EXIT

# median wall seconds, median CPU seconds (perf task-clock: finer than time(1)'s 10 ms, and
# steadier than wall time on a loaded machine) and max RSS (MB), output discarded
measure() {
    local times=() cpus=() rss=0 t m
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$TIMING" -f "%e %M" "$@" >/dev/null 2>&1 || true
        read -r t m < <(tail -1 "$TIMING")
        times+=("$t")
        if [ "$m" -gt "$rss" ]; then rss=$m; fi
        perf stat -x, -e task-clock -o "$TIMING" "$@" >/dev/null 2>&1 || true
        cpus+=("$(awk -F, '/task-clock/ { printf "%.3f", $1 / 1000 }' "$TIMING")")
    done
    local mid=$(((RUNS + 1) / 2))
    printf '%s %s %d\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "${mid}p")" \
        "$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "${mid}p")" "$((rss / 1024))"
}

echo "| dump | command | vmscope wall s | cpu s | MB | drgn wall s | cpu s | MB | cpu ratio drgn/vmscope |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in "${names[@]}"; do
    d=$FIX/dumps/$n
    [ -r "$d/elf.core" ] || { echo "missing $d: run ./fixtures/build.sh and ./fixtures/build-crash.sh" >&2; exit 2; }
    # bt with source file:line and inlined calls (the default with a DWARF vmlinux, as drgn
    # prints them) and without (--no-source); drgn prints them either way.
    for c in log "bt --all" "bt --all --no-source"; do
        read -r vt vc vm < <(measure "$VMSCOPE" $c --core "$d/elf.core" --vmlinux "$d/vmlinux")
        read -r dt dc dm < <(measure "$PY" benches/drgn_log_bt.py "${c%% *}" "$d/elf.core" "$d/vmlinux")
        ratio=$(awk -v a="$dc" -v b="$vc" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print "-" }')
        echo "| $n | $c | $vt | $vc | $vm | $dt | $dc | $dm | $ratio |"
    done
done
