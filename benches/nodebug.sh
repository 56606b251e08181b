#!/usr/bin/env bash
# `ps` on a dump with no vmlinux (types from the dump's BTF, symbols from its own kallsyms
# tables) beside vmscope with the DWARF vmlinux and drgn opening the same dump with it;
# then one module type from split BTF (the loaded module's .ko, plain and .ko.xz, on the
# kernel's raw BTF as /sys/kernel/btf/vmlinux holds it) beside pahole --btf_base.
# Usage: benches/nodebug.sh [DUMP_NAME [FORMAT]]   (default 6.1 elf.core; drgn reads ELF). Median of $RUNS, ms.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-6.1}
fmt=${2:-elf.core}
RUNS=${RUNS:-5}
root=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
dir=$root/dumps/$name
core=$dir/$fmt
vmlinux=$dir/vmlinux
python=$root/venv/bin/python
[ -f "$core" ] || { echo "no fixture dump $core: run ./fixtures/build.sh" >&2; exit 2; }
cargo build --release --quiet
vmscope=$PWD/${CARGO_TARGET_DIR:-target}/release/vmscope
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ps.py" <<'PY'
import sys, drgn
from drgn.helpers.linux.pid import for_each_task
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
for t in for_each_task(prog):
    print(t.pid.value_(), t.comm.string_().decode())
PY

# "WALL CPU": median wall and median CPU (user+sys) milliseconds of RUNS runs of CMD
# (output discarded; a failure aborts). CPU is the steadier figure on a loaded machine.
# Bash's own `time` reports both to the millisecond (GNU time counts CPU in 10 ms steps,
# coarse for a 20 ms run).
median_ms() {
    local ws=() cs=() r u s
    for _ in $(seq "$RUNS"); do
        local rc=0
        { TIMEFORMAT='%3R %3U %3S'; time "$@" > /dev/null 2> "$tmp/err"; } 2> "$tmp/t" || rc=$?
        ((rc == 0)) || { cat "$tmp/err" >&2; echo "failed: $*" >&2; exit 2; }
        read -r r u s < "$tmp/t"
        ws+=("$(awk -v r="$r" 'BEGIN { printf "%d", r * 1000 }')")
        cs+=("$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1000 }')")
    done
    local mid=$(( (RUNS + 1) / 2 ))
    echo "$(printf '%s\n' "${ws[@]}" | sort -n | sed -n "${mid}p") $(printf '%s\n' "${cs[@]}" | sort -n | sed -n "${mid}p")"
}

# No vmlinux reachable: empty HOME, no extra debug roots.
dumponly=$(HOME=$tmp VMSCOPE_DEBUG_DIRS= median_ms "$vmscope" ps --core "$core")
withvml=$(median_ms "$vmscope" ps --core "$core" --vmlinux "$vmlinux")
drgn=$(median_ms "$python" "$tmp/ps.py" "$core" "$vmlinux")
printf '%-52s %8s %8s\n' "$name/$fmt ps" wall_ms cpu_ms
printf '%-52s %8d %8d\n' "vmscope, dump only (BTF + kallsyms in memory)" $dumponly
printf '%-52s %8d %8d\n' "vmscope --vmlinux (DWARF)" $withvml
printf '%-52s %8d %8d\n' "drgn with the vmlinux" $drgn
set -- $dumponly $drgn
awk -v vw="$1" -v vc="$2" -v dw="$3" -v dc="$4" 'BEGIN { if (vw > 0 && vc > 0) printf "drgn / vmscope dump-only: %.1fx wall, %.1fx cpu (target: under 100 ms, 10x)\n", dw / vw, dc / vc }'

# One module type from split BTF: the guest's first module, its first struct of its own.
kdir=$(dirname "$(readlink -f "$vmlinux")")
mod=$(head -n1 "$kdir/modules/load-order" 2>/dev/null || true)
ko=$kdir/modules/$mod.ko
if [ -n "$mod" ] && readelf -S -W "$ko" | grep -q ' .BTF '; then
    objcopy --dump-section ".BTF=$tmp/vmlinux.btf" "$vmlinux" "$tmp/scratch.o"
    xz --check=crc32 --lzma2=dict=1MiB -c "$ko" > "$tmp/$mod.ko.xz"
    "$vmscope" layout --btf "$tmp/vmlinux.btf" --sizes | sort > "$tmp/base.sizes"
    ty=$("$vmscope" layout --btf "$ko" --btf-base "$tmp/vmlinux.btf" --sizes | sort |
        comm -13 "$tmp/base.sizes" - | head -n1 | cut -f1)
    one=$(median_ms "$vmscope" layout --btf "$ko" --btf-base "$tmp/vmlinux.btf" "$ty")
    onexz=$(median_ms "$vmscope" layout --btf "$tmp/$mod.ko.xz" --btf-base "$tmp/vmlinux.btf" "$ty")
    pah=$(median_ms pahole -F btf --btf_base "$tmp/vmlinux.btf" -C "$ty" "$ko")
    printf '%-52s %8s %8s\n' "$mod: struct $ty from split BTF" wall_ms cpu_ms
    printf '%-52s %8d %8d\n' "vmscope layout --btf $mod.ko --btf-base" $one
    printf '%-52s %8d %8d\n' "vmscope layout --btf $mod.ko.xz --btf-base" $onexz
    printf '%-52s %8d %8d\n' "pahole -F btf --btf_base -C" $pah
    set -- $one
    echo "one module type: ${1} ms wall (target: under 20 ms)"
else
    echo "$name: its guest module has no .BTF (kernel without CONFIG_DEBUG_INFO_BTF_MODULES); no split-BTF figure"
fi
