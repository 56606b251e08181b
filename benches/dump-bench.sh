# Sourced by the benches that time vmscope beside drgn on one fixture dump (print.sh, vmas.sh).
# In: $1 = DUMP name (default 6.1). Out: here, dump, root, dir, py (drgn's python), bin (a fresh
# release build), core (the ELF dump), vmlinux, out (a scratch dir removed on exit).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dump=${1:-6.1}
root=${VMSCOPE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures}
dir=$root/dumps/$dump
[[ -d $dir ]] || { echo "no fixture dump $dir: run fixtures/build.sh" >&2; exit 2; }
py=$root/venv/bin/python
[[ -x $py ]] || { echo "no drgn venv at $root/venv: run fixtures/build.sh" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
(cd "$here" && cargo build --release --quiet)
bin=${CARGO_TARGET_DIR:-$here/target}/release/vmscope
core=$dir/elf.core
vmlinux=$dir/vmlinux
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
