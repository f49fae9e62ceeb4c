SOURCE_FILES := $(shell find src -type f -name '*.rs') Cargo.toml Cargo.lock
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
		echo "wasm-opt -Oz target/$(WASM_TARGET)/release/daemonset_csi_policy.wasm -o policy.wasm"; \
		wasm-opt -Oz $(WASM_OPT_FEATURES) target/$(WASM_TARGET)/release/daemonset_csi_policy.wasm -o policy.wasm; \
	else \
		echo "wasm-opt not found (apt-get install binaryen): policy.wasm is not size-optimised"; \
		cp target/$(WASM_TARGET)/release/daemonset_csi_policy.wasm policy.wasm; \
	fi

# --- e2e: annotate, run, end-to-end tests (host in e2e-tests/) ---------------
# The host tools are built in the dev profile: a clean debug build of
# e2e-tests (wasmtime 38) takes a few minutes on 2 cores, the release profile
# of this workspace (fat LTO, 1 codegen unit) takes far longer, and a debug
# build only costs a few seconds of module compilation per run.
E2E_SOURCES := $(shell find e2e-tests/src -type f -name '*.rs') e2e-tests/Cargo.toml
E2E_RUN := cargo run --quiet --locked -p e2e-tests --bin

annotated-policy.wasm: policy.wasm metadata.yml README.md $(E2E_SOURCES)
	$(E2E_RUN) annotate -- --metadata-path metadata.yml --usage-path README.md --output-path annotated-policy.wasm policy.wasm

# Evaluate every test_data/*.json request with policy.yaml's settings.
.PHONY: run
run: annotated-policy.wasm
	$(E2E_RUN) run-examples -- --module annotated-policy.wasm --settings-path policy.yaml --test-data test_data

# Check the bundled manifests (examples/manifests: Helm and kustomize output,
# a List) with policy.yaml's settings and print the table. The examples hold
# rejected objects on purpose, so `check` exits 1 there: this target accepts
# exit status 0 and 1 and fails only on 2 (usage, settings or input error).
# CHECK_FLAGS adds flags, e.g. `make check-examples CHECK_FLAGS="-o json"`.
CHECK_FLAGS ?=
.PHONY: check-examples
check-examples: annotated-policy.wasm
	@$(E2E_RUN) check -- --module annotated-policy.wasm --settings-path policy.yaml $(CHECK_FLAGS) examples/manifests; \
	status=$$?; \
	if [ $$status -eq 1 ]; then echo "check-examples: exit status 1 (rejections), expected for examples/manifests"; exit 0; fi; \
	exit $$status

.PHONY: e2e-tests
e2e-tests: annotated-policy.wasm
	@if cargo nextest --version >/dev/null 2>&1; then \
		echo "cargo nextest run --locked -p e2e-tests && cargo test --locked -p e2e-tests --doc"; \
		cargo nextest run --locked -p e2e-tests && cargo test --locked -p e2e-tests --doc; \
	else \
		echo "cargo test --locked -p e2e-tests"; \
		cargo test --locked -p e2e-tests; \
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
test: fmt lint unit-tests e2e-tests oci-tests

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

# --- OCI artifact: push, pull, release, Artifact Hub (tool in oci/) ----------
# policy-oci (oci-client, like kwctl) pushes exactly what `kwctl push` does.
# Plain HTTP only for the registries listed in a sources file (SOURCES=path,
# kwctl format: `insecure_sources: ["127.0.0.1:5000"]`), HTTPS for every
# other; credentials from DOCKER_CONFIG_FILE or ~/.docker/config.json.
# `oci/registry.sh start` runs a throw-away local registry. See oci/README.md.
OCI_RUN := cargo run --quiet --locked -p policy-oci --
REGISTRY ?= ghcr.io/daemonset-csi-policy/policies/daemonset-csi-policy
TAG ?= v$(VERSION)
SOURCES ?=
DOCKER_CONFIG_FILE ?=
PULL_OUTPUT ?= pulled-policy.wasm
OCI_FLAGS = $(if $(SOURCES),--sources-path $(SOURCES)) $(if $(DOCKER_CONFIG_FILE),--docker-config $(DOCKER_CONFIG_FILE))

.PHONY: push
push: annotated-policy.wasm
	$(OCI_RUN) push annotated-policy.wasm $(REGISTRY):$(TAG) $(OCI_FLAGS)

.PHONY: pull
pull:
	$(OCI_RUN) pull registry://$(REGISTRY):$(TAG) -o $(PULL_OUTPUT) $(OCI_FLAGS)

# Always regenerated; createdAt is kept when nothing else changed.
.PHONY: artifacthub-pkg.yml
artifacthub-pkg.yml: metadata.yml questions-ui.yml
	$(OCI_RUN) artifacthub --metadata metadata.yml --questions questions-ui.yml --version $(VERSION) -o artifacthub-pkg.yml

# Versions agree (metadata.yml, Cargo.toml, policy.yaml), artifacthub-pkg.yml
# is up to date, build + annotate, push to $(REGISTRY):v$(VERSION), print
# the digest to sign.
.PHONY: release
release:
	$(OCI_RUN) check-version --metadata metadata.yml --cargo-toml Cargo.toml --policy policy.yaml
	$(OCI_RUN) artifacthub --metadata metadata.yml --questions questions-ui.yml --version $(VERSION) -o artifacthub-pkg.yml --check
	$(MAKE) annotated-policy.wasm
	@ref=$$($(OCI_RUN) push annotated-policy.wasm $(REGISTRY):v$(VERSION) $(OCI_FLAGS)) && \
	  echo "pushed: $$ref" && \
	  echo "digest: $${ref##*@}" && \
	  echo "sign it: cosign sign --yes $$ref"

# Tests against a real registry (Debian package docker-registry) started on
# 127.0.0.1 by the tests themselves; a missing registry is a failure here.
.PHONY: oci-tests
oci-tests: annotated-policy.wasm
	@bash oci/registry.sh check
	POLICY_OCI_REQUIRE_REGISTRY=1 cargo test --locked -p policy-oci

# --- benchmarks (bench/: criterion in the e2e host's engine) -----------------
# `make bench`: policy.wasm and the floor policy (bench/floor-policy: the same
# SDK, parses the payload and accepts) in release, then criterion measures
# both in the same run (warm and fresh instances, size scaling, settings,
# compilation) and prints the policy/floor ratio table (also written to
# target/criterion/policy-vs-floor.md; `make bench-report` reprints it).
# BENCH_ARGS is passed to criterion, e.g. BENCH_ARGS=ds-fluent-bit.
# The host side is built in the bench profile without fat LTO (env overrides,
# Cargo.toml untouched): fat LTO over wasmtime would take far longer to build.
BENCH_ENV := CARGO_PROFILE_BENCH_LTO=off CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 CARGO_PROFILE_BENCH_OPT_LEVEL=3
BENCH_ARGS ?=
FLOOR_WASM := target/$(WASM_TARGET)/release/floor_policy.wasm
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
	--enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue

.PHONY: floor-wasm
floor-wasm: | wasm-target
	cargo build --target=$(WASM_TARGET) --release --locked -p floor-policy

.PHONY: bench
bench: policy.wasm floor-wasm
	$(BENCH_ENV) cargo bench --locked -p policy-bench --bench evaluation -- $(BENCH_ARGS)

.PHONY: bench-report
bench-report:
	$(BENCH_ENV) cargo run --quiet --locked --profile bench -p policy-bench --bin report

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
	$(BENCH_ENV) cargo build --quiet --locked --profile bench -p policy-bench --bin latency
	for f in target/wasm-sizes/*.wasm; do target/release/latency $$f ds-fluent-bit 2000 || exit 1; done

# policy.wasm built with release-profile variants (opt-level, lto,
# codegen-units, panic, strip through --config) in /tmp: size and latency.
.PHONY: bench-profiles
bench-profiles:
	bench/profile-variants.sh
