#!/usr/bin/env bash
# Build vmscope as one statically linked x86-64 binary (glibc, crt-static) that runs on a
# crash box with no libraries at all, check with `file` and `ldd` that it needs none, and
# report its size. Uses the toolchain and target already installed: nothing is downloaded.
# The live guest tests build their binary through this script (tests/common/mod.rs), so
# what is tested is what ships.
#
#   scripts/build-static.sh          build output on stderr; the binary's path alone on stdout
#
# Honours CARGO (the cargo to run), CARGO_TARGET_DIR and RUSTFLAGS (crt-static is added).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-gnu
die() { echo "build-static.sh: $*" >&2; exit 1; }

libdir=$(rustc --print target-libdir --target "$TARGET")
[[ -d $libdir ]] || die "the $TARGET standard library is not installed ($libdir)"

# --target keeps these objects apart from the dynamic build in target/release.
RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static" \
    "${CARGO:-cargo}" build --release --bin vmscope --target "$TARGET" >&2

bin="${CARGO_TARGET_DIR:-$PWD/target}/$TARGET/release/vmscope"
[[ -x $bin ]] || die "no binary at $bin"

# `file`: "statically linked" or, for a static PIE, "static-pie linked"; never an interpreter.
kind=$(file -b "$bin")
[[ $kind == *"static-pie linked"* || $kind == *"statically linked"* ]] ||
    die "$bin is not static: $kind"
[[ $kind != *"interpreter"* ]] || die "$bin names a dynamic loader: $kind"
# `ldd` lists no library (it prints "statically linked" or "not a dynamic executable").
if deps=$(ldd "$bin" 2>&1) && grep -q '=>' <<<"$deps"; then
    die "$bin needs shared libraries: $deps"
fi
grep -qE 'statically linked|not a dynamic executable' <<<"$deps" || die "ldd $bin: $deps"

bytes=$(stat -c %s "$bin")
# The release profile keeps line tables (debug = 1) for backtraces; `strip` drops them.
stripped=""
if command -v strip >/dev/null; then
    tmp=$(mktemp)
    strip -o "$tmp" "$bin" && stripped=", $(stat -c %s "$tmp") bytes once stripped"
    rm -f "$tmp"
fi
echo "build-static.sh: $bin: static x86-64, $bytes bytes$stripped" >&2
echo "$bin"
