#!/usr/bin/env bash
# vmscope check --all beside vmas for every process, on the 6.1 ELF fixture dump,
# in one run. Prints wall times (best of N) and peak RSS, then the ratios that
# docs/performance.md reports.
#   benches/check.sh [DUMP_NAME] [RUNS]     (default 6.1, 5 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-6.1}
runs=${2:-5}
root=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
d=$root/dumps/$name
[ -e "$d/elf.core" ] || { echo "no fixture dump $d: run ./fixtures/build.sh" >&2; exit 2; }
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/vmscope
tgt=(--core "$d/elf.core" --vmlinux "$d/vmlinux")

# Processes with an mm, one per thread group (what check --all visits).
mapfile -t pids < <("$bin" ps "${tgt[@]}" --json | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["mm"] and t["pid"] == t["tgid"] and not t["idle"]:
        print(t["pid"])')
big=$(python3 -c '
import json, sys
ts = [t for t in json.load(sys.stdin) if t["mm"] and t["pid"] == t["tgid"]]
print(max(ts, key=lambda t: t["map_count"])["pid"])' < <("$bin" ps "${tgt[@]}" --json))

# best-of-N wall seconds and max RSS (KiB) of a command
measure() {
    local best="" rss=0 t0 t1 r tmp
    tmp=$(mktemp)
    for _ in $(seq "$runs"); do
        t0=$(date +%s.%N)
        /usr/bin/time -f '%M' -o "$tmp" "$@" >/dev/null 2>&1 || true
        t1=$(date +%s.%N)
        r=$(tail -1 "$tmp")
        local dt; dt=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then best=$dt; fi
        [ "${r:-0}" -gt "$rss" ] 2>/dev/null && rss=$r
    done
    rm -f "$tmp"
    printf '%.3f %s\n' "$best" "$rss"
}

echo "dump $d: ${#pids[@]} processes, largest pid $big; best of $runs runs"
read -r t_ps rss_ps < <(measure "$bin" ps "${tgt[@]}")
t0=$(date +%s.%N); for _ in $(seq "$runs"); do for p in "${pids[@]}"; do "$bin" vmas "${tgt[@]}" "$p" >/dev/null; done; done; t1=$(date +%s.%N)
t_vmas=$(echo "($t1 - $t0) / $runs" | bc -l)
read -r t_check rss_check < <(measure "$bin" check "${tgt[@]}" --all --maps-dir "$d/proc")
read -r t_check_nomaps rss_nomaps < <(measure "$bin" check "${tgt[@]}" --all)
read -r t_vmas_big rss_vb < <(measure "$bin" vmas "${tgt[@]}" "$big")
read -r t_check_big rss_cb < <(measure "$bin" check "${tgt[@]}" "$big" --maps-dir "$d/proc")

n=${#pids[@]}
printf '%-44s %8s %10s\n' command seconds 'maxRSS KiB'
printf '%-44s %8.3f %10s\n' "ps (open dump + DWARF + task list)" "$t_ps" "$rss_ps"
printf '%-44s %8.3f %10s\n' "vmas PID, for each of $n processes (mean)" "$t_vmas" "-"
printf '%-44s %8.3f %10s\n' "check --all --maps-dir" "$t_check" "$rss_check"
printf '%-44s %8.3f %10s\n' "check --all (no maps)" "$t_check_nomaps" "$rss_nomaps"
printf '%-44s %8.3f %10s\n' "vmas $big (largest)" "$t_vmas_big" "$rss_vb"
printf '%-44s %8.3f %10s\n' "check $big --maps-dir (largest)" "$t_check_big" "$rss_cb"
echo
printf 'check --all / vmas for every process: %.2f\n' "$(echo "$t_check / $t_vmas" | bc -l)"
printf 'check largest / vmas largest:         %.2f\n' "$(echo "$t_check_big / $t_vmas_big" | bc -l)"
