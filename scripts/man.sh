#!/usr/bin/env bash
# Write vmscope's man pages (vmscope.1 and one vmscope-COMMAND.1 per command) into DIR,
# rendered from the clap definitions by the hidden `vmscope man DIR`, so they say what
# `--help` says. Read one with `man -l DIR/vmscope-check.1`; install by copying DIR/*.1
# into a man1 directory (e.g. /usr/local/share/man/man1).
#
#   scripts/man.sh DIR            builds vmscope (release) unless VMSCOPE names a binary
set -euo pipefail
(($# == 1)) || { echo "usage: scripts/man.sh DIR" >&2; exit 2; }
dir=$(realpath -m -- "$1")
[[ -z ${VMSCOPE:-} ]] || VMSCOPE=$(realpath -- "$VMSCOPE")
cd "$(dirname "$0")/.."
if [[ -z ${VMSCOPE:-} ]]; then
    "${CARGO:-cargo}" build --release --bin vmscope >&2
    VMSCOPE="${CARGO_TARGET_DIR:-$PWD/target}/release/vmscope"
fi
"$VMSCOPE" man "$dir"
