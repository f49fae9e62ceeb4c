SOURCE_FILES := $(shell find src -type f -name '*.rs') Cargo.toml Cargo.lock .cargo/config.toml
WASM_TARGET := wasm32-wasip1
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

.PHONY: all
all: annotated-policy.wasm

.PHONY: wasm-target
wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

policy.wasm: $(SOURCE_FILES) | wasm-target
	cargo build --target=$(WASM_TARGET) --release --locked -p daemonset-csi-policy
	@if command -v wasm-opt >/dev/null; then \
		echo "wasm-opt $(WASM_OPT_FLAGS) target/$(WASM_TARGET)/release/daemonset_csi_policy.wasm -o policy.wasm"; \
		wasm-opt $(WASM_OPT_FLAGS) $(WASM_OPT_FEATURES) target/$(WASM_TARGET)/release/daemonset_csi_policy.wasm -o policy.wasm; \
	else \
		echo "wasm-opt not found (apt-get install binaryen): policy.wasm is not size-optimised"; \
		cp target/$(WASM_TARGET)/release/daemonset_csi_policy.wasm policy.wasm; \
	fi

# --- the tool: annotate, examples, check (policy-host, binary daemonset-csi-policy)
# Built in the dev profile: the same build the tests use, so `make run` then
# `make test` compile wasmtime once. Installed for real use with
# `cargo install --locked --path policy-host --profile tool` (docs/cli.md).
HOST_SOURCES := $(shell find policy-host/src -type f -name '*.rs') policy-host/Cargo.toml
TOOL := cargo run --quiet --locked -p policy-host --

annotated-policy.wasm: policy.wasm metadata.yml README.md $(HOST_SOURCES)
	$(TOOL) annotate --metadata-path metadata.yml --usage-path README.md --output-path annotated-policy.wasm policy.wasm

# Evaluate every test_data/requests/*.json request with policy.yaml's
# settings. The examples hold rejected requests on purpose, so `examples`
# exits 1 there: exit status 0 and 1 pass, 2 (an error) fails.
.PHONY: run
run: annotated-policy.wasm
	@$(TOOL) examples --module annotated-policy.wasm --settings-path policy.yaml --requests test_data/requests; \
	status=$$?; \
	if [ $$status -eq 1 ]; then echo "run: exit status 1 (rejections), expected for test_data/requests"; exit 0; fi; \
	exit $$status

# Check the bundled manifests (examples/manifests: Helm and kustomize output,
# a List) with policy.yaml's settings and print the table; exit status 1
# (the deliberate rejections) passes, 2 fails.
# CHECK_FLAGS adds flags, e.g. `make check-examples CHECK_FLAGS="-o json"`.
CHECK_FLAGS ?=
.PHONY: check-examples
check-examples: annotated-policy.wasm
	@$(TOOL) check --module annotated-policy.wasm --settings-path policy.yaml $(CHECK_FLAGS) examples/manifests; \
	status=$$?; \
	if [ $$status -eq 1 ]; then echo "check-examples: exit status 1 (rejections), expected for examples/manifests"; exit 0; fi; \
	exit $$status

# docs/cli.md from the clap definitions (a test fails when it is stale).
.PHONY: cli-docs
cli-docs:
	$(TOOL) reference -o docs/cli.md

# The host's tests: engine, CLI, data-driven cases (policy-host/cases), the
# hostile corpus, check, annotation, OCI registry. Registry tests start a real
# registry (Debian package docker-registry) on 127.0.0.1; without it they are
# skipped with one loud line, unless POLICY_OCI_REQUIRE_REGISTRY=1 (CI) makes
# them fail.
.PHONY: host-tests
host-tests: annotated-policy.wasm
	@registry=$${DOCKER_REGISTRY_BIN:-/usr/bin/docker-registry}; \
	if [ ! -x "$$registry" ]; then \
		if [ -n "$$POLICY_OCI_REQUIRE_REGISTRY" ] && [ "$$POLICY_OCI_REQUIRE_REGISTRY" != 0 ]; then \
			echo "host-tests: $$registry is not installed and POLICY_OCI_REQUIRE_REGISTRY is set: the registry tests will fail (apt-get install -y docker-registry)"; \
		else \
			echo "*** SKIPPED: the OCI registry tests (policy-host/tests/registry.rs): $$registry is not installed; apt-get install -y docker-registry to run them (POLICY_OCI_REQUIRE_REGISTRY=1 makes its absence a failure) ***"; \
		fi; \
	fi
	@if cargo nextest --version >/dev/null 2>&1; then \
		echo "cargo nextest run --locked -p policy-host && cargo test --locked -p policy-host --doc"; \
		cargo nextest run --locked -p policy-host && cargo test --locked -p policy-host --doc; \
	else \
		echo "cargo test --locked -p policy-host"; \
		cargo test --locked -p policy-host; \
	fi

.PHONY: fmt
fmt:
	cargo fmt --all -- --check

.PHONY: lint
lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings

.PHONY: unit-tests
unit-tests:
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --locked -p daemonset-csi-policy; \
	else \
		cargo test --locked -p daemonset-csi-policy; \
	fi

.PHONY: test
test: fmt lint unit-tests host-tests

.PHONY: clean
clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm

# --- fuzzing (cargo-fuzz, nightly; fuzz/ is its own workspace) ---------------
# `make fuzz` runs each target (validate_bytes, structured, settings) for
# FUZZ_SECONDS; `make fuzz-smoke` for FUZZ_SMOKE_SECONDS each (CI). Both
# install the nightly toolchain and cargo-fuzz when missing, build the seed
# corpora from test_data/, and fail on the first crash (fuzz/artifacts/).
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20

.PHONY: fuzz
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

.PHONY: fuzz-smoke
fuzz-smoke:
	fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

# --- OCI artifact: push, pull, release, Artifact Hub (the tool's subcommands) -
# `push` writes exactly what `kwctl push` does (oci-client, like kwctl).
# Plain HTTP only for the registries listed in a sources file (SOURCES=path,
# kwctl format: `insecure_sources: ["127.0.0.1:5000"]`), HTTPS for every
# other; credentials from DOCKER_CONFIG_FILE or ~/.docker/config.json.
# `policy-host/registry.sh start` runs a throw-away local registry. See
# docs/distribution.md.
REGISTRY ?= ghcr.io/daemonset-csi-policy/policies/daemonset-csi-policy
TAG ?= v$(VERSION)
SOURCES ?=
DOCKER_CONFIG_FILE ?=
PULL_OUTPUT ?= pulled-policy.wasm
OCI_FLAGS = $(if $(SOURCES),--sources-path $(SOURCES)) $(if $(DOCKER_CONFIG_FILE),--docker-config $(DOCKER_CONFIG_FILE))

.PHONY: push
push: annotated-policy.wasm
	$(TOOL) push annotated-policy.wasm $(REGISTRY):$(TAG) $(OCI_FLAGS)

.PHONY: pull
pull:
	$(TOOL) pull registry://$(REGISTRY):$(TAG) -o $(PULL_OUTPUT) $(OCI_FLAGS)

# Always regenerated; createdAt is kept when nothing else changed.
.PHONY: artifacthub-pkg.yml
artifacthub-pkg.yml: metadata.yml questions-ui.yml
	$(TOOL) artifacthub --metadata metadata.yml --questions questions-ui.yml --version $(VERSION) -o artifacthub-pkg.yml

# Versions agree (metadata.yml, Cargo.toml, policy.yaml), artifacthub-pkg.yml
# is up to date, build + annotate, push to $(REGISTRY):v$(VERSION), print
# the digest to sign.
.PHONY: release
release:
	$(TOOL) check-version --metadata metadata.yml --cargo-toml Cargo.toml --policy policy.yaml
	$(TOOL) artifacthub --metadata metadata.yml --questions questions-ui.yml --version $(VERSION) -o artifacthub-pkg.yml --check
	$(MAKE) annotated-policy.wasm
	@ref=$$($(TOOL) push annotated-policy.wasm $(REGISTRY):v$(VERSION) $(OCI_FLAGS)) && \
	  echo "pushed: $$ref" && \
	  echo "digest: $${ref##*@}" && \
	  echo "sign it: cosign sign --yes $$ref"

# Only the registry tests, with a missing registry a failure.
.PHONY: oci-tests
oci-tests: annotated-policy.wasm
	@bash policy-host/registry.sh check
	POLICY_OCI_REQUIRE_REGISTRY=1 cargo test --locked -p policy-host --test registry --test artifacthub --test questions_ui

# --- benchmarks (policy-bench/: criterion in the host's engine) --------------
# `make bench`: policy.wasm and the floor policy (policy-bench/floor-policy: the same
# SDK, parses the payload and accepts) in release, then criterion measures
# in the same run the policy (policy.yaml settings, settings {}, 20 profiles
# once the schema has them), the floor and Kubewarden's pod-privileged-policy
# (../shared/bench/, POD_PRIVILEGED_WASM; skipped when absent): warm and fresh
# instances, size scaling, settings, compilation; prints the report (also
# written to target/criterion/policy-vs-floor.md; `make bench-report`
# reprints it, `make bench-readme` puts its README block into README.md).
# BENCH_ARGS is passed to criterion, e.g. BENCH_ARGS=ds-fluent-bit.
# The host side is built in the bench profile (Cargo.toml: no fat LTO, which
# would take far longer to build over wasmtime).
BENCH_ARGS ?=
# The floor is built as any SDK policy is, with the target's default
# features (bulk memory among them), plus the inlining threshold of
# .cargo/config.toml: RUSTFLAGS replaces the config's rustflags, whose
# `target-cpu=mvp` gives policy.wasm its own memcpy (src/memcopy.rs), which
# the floor lacks (wasi-libc's copies byte by byte up to 32 bytes: slower
# than the floor as the SDK builds it). Its own target directory keeps the
# two builds from invalidating each other.
FLOOR_TARGET_DIR := target/floor
FLOOR_WASM := $(FLOOR_TARGET_DIR)/$(WASM_TARGET)/release/floor_policy.wasm
# --low-memory-unused lets wasm-opt fold constant offsets into loads and
# stores, as emscripten does: it assumes nothing reads the lowest 1 KiB of
# memory. In a Rust wasm32-wasip1 module that is the bottom of the 1 MiB
# stack (the stack comes first and grows down from 1048576, the data lies
# above it), reached only within 1 KiB of a stack overflow. 2.9 KB smaller.
WASM_OPT_FLAGS := -Oz --low-memory-unused
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
	--enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue

.PHONY: floor-wasm
floor-wasm: | wasm-target
	RUSTFLAGS="-C llvm-args=-inline-threshold=60" CARGO_TARGET_DIR=$(FLOOR_TARGET_DIR) \
		cargo build --target=$(WASM_TARGET) --release --locked -p floor-policy

.PHONY: bench
bench: policy.wasm floor-wasm
	cargo bench --locked -p policy-bench --bench evaluation -- $(BENCH_ARGS)

.PHONY: bench-report
bench-report:
	cargo run --quiet --locked --profile bench -p policy-bench --bin report

# Rewrite README.md's performance block (between <!-- bench:start --> and
# <!-- bench:end -->) from the last `make bench` run: ratios only.
.PHONY: bench-readme
bench-readme:
	cargo run --quiet --locked --profile bench -p policy-bench --bin report -- --readme README.md

# Sizes of policy.wasm and the floor as built and after wasm-opt -Oz / -O3
# (Debian package binaryen), with the fluent-bit latency of each in the
# engine. The outputs stay in target/wasm-sizes/ (listed by the bench report).
.PHONY: wasm-sizes
wasm-sizes: policy.wasm floor-wasm
	@command -v wasm-opt >/dev/null || { echo "wasm-opt not found: apt-get install -y binaryen"; exit 1; }
	mkdir -p target/wasm-sizes
	cp policy.wasm target/wasm-sizes/policy.wasm
	cp $(FLOOR_WASM) target/wasm-sizes/floor.wasm
	for m in policy floor; do for o in Oz O3; do \
		wasm-opt -$$o $(WASM_OPT_FEATURES) target/wasm-sizes/$$m.wasm -o target/wasm-sizes/$$m-$$o.wasm || exit 1; \
	done; done
	cargo build --quiet --locked --profile bench -p policy-bench --bin latency
	for f in target/wasm-sizes/*.wasm; do target/release/latency $$f ds-fluent-bit 2000 || exit 1; done

# Deterministic costs in the engine: callgrind's instruction counts of a
# validate call, warm and fresh, with the ratios of the performance issue
# (needs valgrind; slow: about a minute per request and subject).
# `policy-bench/name-guest.py` names the guest's functions in a profile.
.PHONY: bench-instructions
bench-instructions: policy.wasm floor-wasm
	policy-bench/instructions.sh

# policy.wasm built with release-profile variants (opt-level, lto,
# codegen-units, panic, strip through --config) in /tmp: size and latency.
.PHONY: bench-profiles
bench-profiles:
	policy-bench/profile-variants.sh
