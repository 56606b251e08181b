#!/usr/bin/env bash
# Run every cargo-fuzz target for SECONDS seconds each (default 60), on the nightly
# toolchain. Inputs that crash, time out or run out of memory are copied to
# fuzz/regressions/TARGET/ (commit them: they stay as regression inputs, and this
# script replays them first). Exit 1 when any target found something.
set -euo pipefail
secs="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo +nightly install cargo-fuzz
fi

targets=$(cargo +nightly fuzz list)
# -O with debug assertions: overflow checks stay on.
cargo +nightly fuzz build -O --debug-assertions

failed=0
for t in $targets; do
    corpus="corpus/$t"
    regress="regressions/$t"
    mkdir -p "$corpus" "$regress" "artifacts/$t"
    # Replay the kept crashes first: each must now run clean.
    if compgen -G "$regress/*" >/dev/null; then
        if ! cargo +nightly fuzz run -O --debug-assertions "$t" "$regress"/* -- -runs=1 >"artifacts/$t.replay.log" 2>&1; then
            echo "fuzz.sh: $t: a regression input fails again (artifacts/$t.replay.log)" >&2
            failed=1
        fi
    fi
    echo "fuzz.sh: $t for ${secs}s" >&2
    if cargo +nightly fuzz run -O --debug-assertions "$t" "$corpus" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        >"artifacts/$t.log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "artifacts/$t.log" | tail -1 || true)
        echo "fuzz.sh: $t: clean (${runs:-?})" >&2
    else
        echo "fuzz.sh: $t: FOUND a failure (artifacts/$t.log)" >&2
        failed=1
    fi
    for f in "artifacts/$t"/crash-* "artifacts/$t"/timeout-* "artifacts/$t"/oom-* "artifacts/$t"/leak-*; do
        [ -e "$f" ] && cp "$f" "$regress/" && echo "fuzz.sh: kept $regress/$(basename "$f")" >&2
    done
done
exit "$failed"
