#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, builds the real-kernel fixtures
# (cached outside the clone, see docs/testing.md) and runs every test, real-kernel ones included.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== [1/2] packages and real-kernel fixtures (kernels, QEMU dumps, oracles)"
./fixtures/build.sh
./fixtures/build-crash.sh
./fixtures/build-arm64.sh
./fixtures/build-source.sh
./fixtures/pahole-oracle.sh
./fixtures/host-tools.sh
./fixtures/modules.sh

echo "== [2/2] tests"
cargo nextest run --release --no-fail-fast --status-level pass "$@"
