#!/usr/bin/env bash
# Regenerates the example pictures under docs/img/ from the fixture dumps (see docs/testing.md),
# used by docs/usage.md and docs/walkthrough.md: the "file" workload's maple tree (6.1), rb-tree
# with its list and vmacache (5.10), and its address-space strip, its task -> mm -> VMAs graph and
# cost chart; the 60,010-VMA "many" workload's folded maple tree and cost chart (6.1); the cache
# lines of task_struct and vm_area_struct. Usage: scripts/doc-pictures.sh  (builds vmscope in
# release first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
cargo build --release -q
BIN=target/release/vmscope
# role_pid DUMP ROLE: the pid of a workload in the dump's workloads.json.
role_pid() {
    python3 -c 'import json,sys; print(next(p["pid"] for p in json.load(open(sys.argv[1]))["processes"] if p["role"] == sys.argv[2]))' \
        "$ROOT/dumps/$1/workloads.json" "$2"
}
for dump in 6.1 5.10; do
    d=$ROOT/dumps/$dump
    pid=$(role_pid "$dump" file)
    core=(--core "$d/elf.core" --vmlinux "$d/vmlinux")
    "$BIN" "${core[@]}" tree "$pid" --svg "docs/img/tree-$dump-file.svg"
    "$BIN" "${core[@]}" vmas "$pid" --svg "docs/img/vmas-$dump-file.svg"
    "$BIN" "${core[@]}" graph --pid "$pid" --svg "docs/img/graph-$dump-file.svg"
    "$BIN" "${core[@]}" costs "$pid" --svg "docs/img/costs-$dump-file.svg"
done
d=$ROOT/dumps/6.1
pid=$(role_pid 6.1 many)
"$BIN" --core "$d/elf.core" --vmlinux "$d/vmlinux" tree "$pid" --svg docs/img/tree-6.1-many.svg
"$BIN" --core "$d/elf.core" --vmlinux "$d/vmlinux" costs "$pid" --svg docs/img/costs-6.1-many.svg
for type in vm_area_struct task_struct; do
    "$BIN" layout --btf "$d/vmlinux" "$type" --svg "docs/img/layout-6.1-$type.svg"
done
ls -l docs/img
