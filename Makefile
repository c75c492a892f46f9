# The README's commands. Each target installs what it needs, so each works on a fresh machine.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install demo test test-rust test-python typecheck lint bench

# Builds the Rust extension (release profile, via maturin) and installs memlane editable
# with the offline embedder and the test tools.
install:
	$(PIP) install --quiet "maturin>=1.8,<2"
	$(PIP) install --quiet --no-build-isolation -e ".[local,test,server]"

demo: install
	$(PYTHON) -m memlane.demo

test: install test-rust test-python typecheck

test-rust:
	cargo test --workspace --quiet

test-python:
	$(PYTHON) -m pytest tests -q

# mypy --strict over python/memlane (settings in pyproject.toml), and the stub of the
# native module checked against the compiled one.
typecheck:
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy.stubtest memlane._native

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: install
	$(PYTHON) benches/store_bench.py
	$(PYTHON) benches/loop_stall.py
