#!/bin/bash
# VMAs of all processes of a dump, and of the ~60,000-VMA process alone: vmscope vs drgn,
# measured in one run with hyperfine (wall time, warm page cache) and /usr/bin/time (peak RSS).
#
#   benches/vmas.sh [DUMP]      DUMP: 6.1 (default), 5.10, 6.1-la57
#
# Needs: the fixtures (fixtures/build.sh: dumps + drgn venv), hyperfine, a release build.
set -euo pipefail
. "$(dirname "$0")/dump-bench.sh"
many=$(python3 -c "import json,sys; print(next(p['pid'] for p in json.load(open(sys.argv[1]))['processes'] if p['role']=='many'))" "$dir/workloads.json")

echo "dump $dump ($(cat "$dir/release")), 60k process: pid $many; $(uptime | sed "s/.*load/load/")"
# Both tools must agree on the amount of work first.
n_vs=$("$bin" vmas --all --core "$core" --vmlinux "$vmlinux" | grep -vc '^==> ')
n_dr=$("$py" "$here/benches/drgn_vmas.py" "$core" "$vmlinux" all)
echo "VMAs (all processes): vmscope $n_vs, drgn $n_dr"

hyperfine -N --warmup 1 --runs 5 --export-json "$out/all.json" \
    -n vmscope "$bin vmas --all --core $core --vmlinux $vmlinux" \
    -n drgn "$py $here/benches/drgn_vmas.py $core $vmlinux all" >/dev/null
hyperfine -N --warmup 1 --runs 5 --export-json "$out/many.json" \
    -n vmscope "$bin vmas --core $core --vmlinux $vmlinux $many" \
    -n drgn "$py $here/benches/drgn_vmas.py $core $vmlinux $many" >/dev/null

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
# Whole-command CPU time (user + sys), which a busy machine inflates less than wall time.
cpu() { /usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f", ($1 + $2) * 1000}'; }
cpu_vs=$(cpu "$bin" vmas --core "$core" --vmlinux "$vmlinux" "$many")
cpu_dr=$(cpu "$py" "$here/benches/drgn_vmas.py" "$core" "$vmlinux" "$many")
rss_vs=$(rss "$bin" vmas --core "$core" --vmlinux "$vmlinux" "$many")
rss_dr=$(rss "$py" "$here/benches/drgn_vmas.py" "$core" "$vmlinux" "$many")
# The walk alone: vmscope's own timer around the tree walk and rendering.
walk=$(VMSCOPE_TIMING=1 "$bin" vmas --core "$core" --vmlinux "$vmlinux" "$many" 2>&1 >/dev/null | grep -o 'walk+render .*' || true)

python3 - "$out" "$rss_vs" "$rss_dr" "$walk" "$cpu_vs" "$cpu_dr" <<'PY'
import json, sys
out, rss_vs, rss_dr, walk, cpu_vs, cpu_dr = sys.argv[1:]
def means(f):
    r = {x["command"]: x for x in json.load(open(f))["results"]}
    return r["vmscope"]["mean"], r["vmscope"]["stddev"], r["drgn"]["mean"], r["drgn"]["stddev"]
print("| workload | vmscope | drgn | drgn / vmscope |")
print("|---|---|---|---|")
for name, f in (("all VMAs of all processes", "all.json"), ("the 60,000-VMA process", "many.json")):
    v, vs, d, ds = means(f"{out}/{f}")
    print(f"| {name} | {v*1000:.0f} ms ± {vs*1000:.0f} | {d*1000:.0f} ms ± {ds*1000:.0f} | {d/v:.1f}x |")
print(f"| CPU (user+sys), 60,000-VMA process | {cpu_vs} ms | {cpu_dr} ms | {int(cpu_dr)/max(1,int(cpu_vs)):.1f}x |")
print(f"| peak RSS, 60,000-VMA process | {int(rss_vs)/1024:.0f} MB | {int(rss_dr)/1024:.0f} MB | {int(rss_dr)/int(rss_vs):.1f}x |")
if walk:
    print(f"\nvmscope, 60,000-VMA process, tree walk + VMA reads + rendering alone: {walk[len('walk+render '):]}")
PY
