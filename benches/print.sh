#!/bin/bash
# `vmscope print init_mm.map_count` vs drgn doing the same, each from process start,
# measured side by side in one run with hyperfine (wall time, warm page cache); then
# `vmscope list` over every task (init_task.tasks with pid and comm) vs drgn's
# list_for_each_entry, the list's target being under 50 ms.
#
#   benches/print.sh [DUMP]      DUMP: 6.1 (default), 5.10, 6.1-la57
#
# Needs: the fixtures (fixtures/build.sh: dumps + drgn venv), hyperfine, a release build.
set -euo pipefail
. "$(dirname "$0")/dump-bench.sh"

# Both must print the same number first.
v=$("$bin" print --core "$core" --vmlinux "$vmlinux" --json init_mm.map_count | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
d=$("$py" "$here/benches/drgn_print.py" "$core" "$vmlinux")
echo "dump $dump ($(cat "$dir/release")): init_mm.map_count vmscope $v, drgn $d; $(uptime | sed "s/.*load/load/")"
[[ $v == "$d" ]] || { echo "vmscope and drgn disagree" >&2; exit 1; }

hyperfine -N --warmup 2 --runs 10 --export-json "$out/print.json" \
    -n vmscope "$bin print --core $core --vmlinux $vmlinux init_mm.map_count" \
    -n drgn "$py $here/benches/drgn_print.py $core $vmlinux" >/dev/null
python3 - "$out/print.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"print init_mm.map_count: vmscope {r['vmscope']*1000:.1f} ms, drgn {r['drgn']*1000:.1f} ms, ratio {r['drgn']/r['vmscope']:.1f}x")
PY

# The same tasks, in the same order, from both.
list_args="list --core $core --vmlinux $vmlinux init_task.tasks --type task_struct --member tasks --print pid,comm"
vt=$("$bin" $list_args --json | python3 -c 'import json,sys; print("\n".join(e["address"] for e in json.load(sys.stdin)["entries"]))')
dt=$("$py" "$here/benches/drgn_print.py" "$core" "$vmlinux" tasks | cut -d" " -f1)
[[ $vt == "$dt" ]] || { echo "vmscope and drgn list different tasks" >&2; exit 1; }
hyperfine -N --warmup 2 --runs 10 --export-json "$out/list.json" \
    -n vmscope "$bin $list_args" \
    -n drgn "$py $here/benches/drgn_print.py $core $vmlinux tasks" >/dev/null
python3 - "$out/list.json" "$(wc -l <<<"$vt")" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
ms = r["vmscope"] * 1000
print(f"list over all {sys.argv[2]} tasks (pid, comm): vmscope {ms:.1f} ms, drgn {r['drgn']*1000:.1f} ms, ratio {r['drgn']/r['vmscope']:.1f}x; target < 50 ms: {'met' if ms < 50 else 'MISSED'}")
sys.exit(0 if ms < 50 else 1)
PY
