#!/bin/sh
# Runs every fuzz target for a bounded time: `fuzz/run.sh SECONDS [TARGET...]`.
# Installs what it needs on a fresh machine (nightly toolchain, cargo-fuzz),
# builds the seed corpora, and fails on the first crash (the input is left
# in fuzz/artifacts/<target>/; replay it with
# `cargo +nightly fuzz run <target> <file>`).
#
# Environment: FUZZ_SANITIZER (default none: libFuzzer runs several times
# faster without ASan; the core's only unsafe code, the word stores of
# json_in.rs and json_out.rs, is also fuzzed under FUZZ_SANITIZER=address
# by hand), FUZZ_TIMEOUT (seconds one input may take before it counts as a
# hang, default 10).
set -eu
seconds=${1:-300}
[ $# -gt 0 ] && shift
targets=${*:-validate_bytes structured settings}
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
sanitizer=${FUZZ_SANITIZER:-none}
timeout=${FUZZ_TIMEOUT:-10}

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
"$fuzz_dir/make-seeds.sh"

cd "$fuzz_dir/.."
cargo +nightly fuzz build --sanitizer "$sanitizer"
for target in $targets; do
    dict=""
    [ -f "$fuzz_dir/dicts/$target.dict" ] && dict="-dict=$fuzz_dir/dicts/$target.dict"
    echo "=== fuzz $target for ${seconds}s"
    cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -timeout="$timeout" -len_control=0 \
        -print_final_stats=1 $dict
done
