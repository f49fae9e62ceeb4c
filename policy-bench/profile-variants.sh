#!/usr/bin/env bash
# Builds policy.wasm with release-profile variants (through `--config`, the
# workspace Cargo.toml is untouched) in a separate target dir, then measures
# each: size as built, after `wasm-opt -Oz`/`-O3` when binaryen is there, and
# the fluent-bit latency in the engine (policy-bench/src/bin/latency.rs).
#
#   policy-bench/profile-variants.sh [OUT_DIR]      (default /tmp/policy-profile-variants)
#
# Variants run one after the other; a full set takes ~15-20 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/policy-profile-variants}
export CARGO_TARGET_DIR=${VARIANTS_TARGET_DIR:-$OUT/target}
mkdir -p "$OUT"
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue)

# name | --config overrides of [profile.release] (the workspace has
# opt-level 3, lto true (fat), codegen-units 1, panic abort, strip true).
VARIANTS=(
  'as-is|'
  'opt-z|opt-level="z"'
  'opt-3|opt-level=3'
  'opt-2|opt-level=2'
  'opt-s-thin|lto="thin"'
  'opt-s-nolto|lto=false'
  'opt-s-cgu16|codegen-units=16'
  'opt-s-unwind|panic="unwind"'
  'opt-s-nostrip|strip=false'
  'opt-z-thin|opt-level="z" lto="thin"'
  'opt-3-thin|opt-level=3 lto="thin"'
)

# The engine-side timer, built with the bench overrides of the Makefile.
# The bench profile (Cargo.toml) builds the host without fat LTO.
env -u CARGO_TARGET_DIR cargo build --quiet --locked --profile bench -p policy-bench --bin latency
LATENCY=target/release/latency

printf 'variant\tbytes\tOz bytes\tO3 bytes\tbuild s\tlatency\n' > "$OUT/results.tsv"
for v in "${VARIANTS[@]}"; do
  name=${v%%|*}
  overrides=${v#*|}
  args=()
  for o in $overrides; do args+=(--config "profile.release.$o"); done
  start=$(date +%s)
  cargo build --quiet --locked --target wasm32-wasip1 --release -p daemonset-csi-policy "${args[@]}"
  secs=$(( $(date +%s) - start ))
  wasm="$OUT/$name.wasm"
  cp "$CARGO_TARGET_DIR/wasm32-wasip1/release/daemonset_csi_policy.wasm" "$wasm"
  oz=- o3=-
  if command -v wasm-opt >/dev/null; then
    wasm-opt -Oz "${WASM_OPT_FEATURES[@]}" "$wasm" -o "$OUT/$name.Oz.wasm" && oz=$(stat -c %s "$OUT/$name.Oz.wasm")
    wasm-opt -O3 "${WASM_OPT_FEATURES[@]}" "$wasm" -o "$OUT/$name.O3.wasm" && o3=$(stat -c %s "$OUT/$name.O3.wasm")
  fi
  lat=$("$LATENCY" "$wasm" ds-fluent-bit 3000 | cut -f4-)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(stat -c %s "$wasm")" "$oz" "$o3" "$secs" "$lat" | tee -a "$OUT/results.tsv"
done
echo "results: $OUT/results.tsv"
