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
	cp target/$(WASM_TARGET)/release/daemonset_csi_policy.wasm policy.wasm

.PHONY: fmt
fmt:
	cargo fmt --all -- --check

.PHONY: lint
lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings

.PHONY: unit-tests
unit-tests:
	cargo nextest run --locked -p daemonset-csi-policy || cargo test --locked -p daemonset-csi-policy

.PHONY: test
test: fmt lint unit-tests e2e-tests

.PHONY: clean
clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm
