#!/usr/bin/env bash
# Open a dump and list every task: vmscope vs drgn vs crash, one run each, same machine.
# Usage: benches/dump.sh [DUMP_NAME]   (default 5.10; fixtures from ./fixtures/build.sh)
# Prints wall time and peak RSS per tool and format, and the ratios drgn/vmscope, crash/vmscope.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-5.10}
root=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
dir=$root/dumps/$name
vmlinux=$dir/vmlinux
python=$root/venv/bin/python
[ -f "$dir/elf.core" ] || { echo "no fixture dump in $dir: run ./fixtures/build.sh" >&2; exit 2; }
cargo build --release --quiet
vmscope=${CARGO_TARGET_DIR:-target}/release/vmscope

drgn_ps=$(mktemp)
trap 'rm -f "$drgn_ps"' EXIT
cat > "$drgn_ps" <<'PY'
import sys, drgn
from drgn.helpers.linux.pid import for_each_task
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
n = 0
for t in for_each_task(prog):
    print(t.pid.value_(), t.tgid.value_(), t.real_parent.tgid.value_(), t.comm.string_().decode(), hex(t.value_()), hex(t.mm.value_()))
    n += 1
print(n, "tasks", file=sys.stderr)
PY

# measure LABEL CMD...: one run, prints "LABEL seconds peak_kb exit_status"
measure() {
    local label=$1; shift
    local tf; tf=$(mktemp)
    local rc=0
    /usr/bin/time -o "$tf" -f "%e %M" "$@" > /dev/null 2>&1 || rc=$?
    echo "$label $(tail -1 "$tf") $rc"
    rm -f "$tf"
}

results=()
for fmt in elf.core kdump-zlib.flat; do
    core=$dir/$fmt
    results+=("$(measure "vmscope/$fmt" "$vmscope" ps --core "$core" --vmlinux "$vmlinux")")
    results+=("$(measure "drgn/$fmt" "$python" "$drgn_ps" "$core" "$vmlinux")")
done
if command -v crash > /dev/null; then
    for fmt in elf.core kdump-zlib.flat; do
        results+=("$(measure "crash/$fmt" sh -c "printf 'ps\nquit\n' | crash -s '$vmlinux' '$dir/$fmt'")")
    done
fi

printf '%-26s %9s %10s  %s\n' tool/format seconds peak_MB result
for r in "${results[@]}"; do
    set -- $r
    ok=ok; [ "$4" = 0 ] || ok="failed (exit $4)"
    printf '%-26s %9s %10d  %s\n' "$1" "$2" $(( $3 / 1024 )) "$ok"
done
echo
for fmt in elf.core kdump-zlib.flat; do
    v=$(printf '%s\n' "${results[@]}" | awk -v k="vmscope/$fmt" '$1==k && $4==0 {print $2}')
    for tool in drgn crash; do
        o=$(printf '%s\n' "${results[@]}" | awk -v k="$tool/$fmt" '$1==k && $4==0 {print $2}')
        [ -n "$o" ] && [ -n "$v" ] && awk -v o="$o" -v v="$v" -v l="$tool/vmscope $fmt" 'BEGIN{ if (v > 0) printf "%-34s %.1fx\n", l, o/v }'
    done
done
