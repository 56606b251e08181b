#!/usr/bin/env bash
# log and bt benchmark: vmscope beside drgn 0.3.0 (the fixtures venv), same dump, one run.
# Wall time (median of $RUNS) and peak RSS of the whole command, drgn's start-up (loading the
# vmlinux's DWARF) included, as a user waits for it.
#   benches/log_bt.sh [DUMP_NAME...]      default: 6.1 6.1-panic
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
cargo build --release --quiet
VMSCOPE=${CARGO_TARGET_DIR:-target}/release/vmscope
FIX=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
PY=$FIX/venv/bin/python
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(6.1 6.1-panic)
TIMING=$(mktemp)
trap 'rm -f "$TIMING"' EXIT

# median wall seconds and max RSS (MB), output discarded
measure() {
    local times=() rss=0 t m
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$TIMING" -f "%e %M" "$@" >/dev/null 2>&1 || true
        read -r t m < <(tail -1 "$TIMING")
        times+=("$t")
        if [ "$m" -gt "$rss" ]; then rss=$m; fi
    done
    printf '%s %d\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")" "$((rss / 1024))"
}

echo "| dump | command | vmscope wall s | MB | drgn wall s | MB | ratio drgn/vmscope |"
echo "|---|---|---|---|---|---|---|"
for n in "${names[@]}"; do
    d=$FIX/dumps/$n
    [ -r "$d/elf.core" ] || { echo "missing $d: run ./fixtures/build.sh and ./fixtures/build-crash.sh" >&2; exit 2; }
    for c in log "bt --all"; do
        read -r vt vm < <(measure "$VMSCOPE" $c --core "$d/elf.core" --vmlinux "$d/vmlinux")
        read -r dt dm < <(measure "$PY" benches/drgn_log_bt.py "${c%% *}" "$d/elf.core" "$d/vmlinux")
        ratio=$(awk -v a="$dt" -v b="$vt" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print ">100x" }')
        echo "| $n | $c | $vt | $vm | $dt | $dm | $ratio |"
    done
done
