#!/usr/bin/env bash
# Deterministic costs: the instructions (callgrind, `valgrind` package) of a
# `validate` call, warm (one instance) and fresh (instantiation, wapc_init
# and the call, as policy-server does), for this module with policy.yaml's
# settings, with `{}`, with 20 profiles, the SDK floor and pod-privileged,
# and the ratios the performance issue states. Instruction counts do not
# move with the machine's load, which timings here do by up to 2x; they
# are not times (a division or a cache miss counts as one instruction), so
# `make bench` stays the measure of record.
#
#   policy-bench/instructions.sh [CASE...]      (default: the bench's five)
#   CALLS=20 POLICY_WASM=... FLOOR_WASM=... POD_PRIVILEGED_WASM=...
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
calls=${CALLS:-10}
policy=${POLICY_WASM:-policy.wasm}
floor=${FLOOR_WASM:-target/floor/wasm32-wasip1/release/floor_policy.wasm}
pod=${POD_PRIVILEGED_WASM:-../shared/bench/pod-privileged-policy.wasm}
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(ds-fluent-bit ds-fluent-bit-mutate ds-chart-cilium ds-chart-datadog sc-ebs-gp3)
cargo build --quiet --locked --profile bench -p policy-bench --bin instructions

count() { # MODULE SETTINGS CASE MODE -> instructions per call
    local total
    total=$(LATENCY_SETTINGS=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        --toggle-collect='*instructions*measured*' \
        target/release/instructions "$1" "$3" "$calls" "$4" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    [ -n "$total" ] || { echo "no count for $1 $3 $4" >&2; exit 1; }
    echo $((total / calls))
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }

echo "| request | mode | policy | ÷ floor | ÷ pod-privileged | settings cost (policy − {}) | ÷ floor's (floor − floor {}) | 20 profiles ÷ policy |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for case in "${cases[@]}"; do
    for mode in warm fresh; do
        p=$(count "$policy" policy "$case" "$mode")
        e=$(count "$policy" empty "$case" "$mode")
        r=$(count "$policy" profiles20 "$case" "$mode")
        f=$(count "$floor" policy "$case" "$mode")
        fe=$(count "$floor" empty "$case" "$mode")
        pp=-
        if [ -f "$pod" ] && [[ $case == ds-* ]]; then
            pp=$(ratio "$p" "$(count "$pod" empty "$case" "$mode")")
        fi
        echo "| $case | $mode | $p | $(ratio "$p" "$f") | $pp | $((p - e)) | $(ratio $((p - e)) $((f - fe))) | $(ratio "$r" "$p") |"
    done
done
