# The two contracts (README): `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
# `make help` lists the targets: the text after `##` on each target's line.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and explicitly so that the pinned build is used; override for other platforms,
# e.g. make TORCH_SPEC="torch torchvision --index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The demo's CPU budget (see docs/benchmarks.md for full-budget numbers).
DEMO_ITERATIONS ?= 300
DEMO_BATCH_REAL ?= 64
DEMO_EVAL_EPOCHS ?= 300
DEMO_EVAL_MODELS ?= 2

# make bench BENCH=NAME (or all) reruns a benchmark's recorded commands; BUDGET=cpu|gpu|all picks which.
BENCH ?=
BUDGET ?= all

.PHONY: help setup data demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq $(TORCH_SPEC)
	$(BIN)/python -m pip install -qq -e ".[dev,loading,diffusion]"
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP) ## create .venv and install the package with its extras (once per pyproject.toml)

# Fashion-MNIST from Debian's package when apt is available; otherwise the demo falls back to torchvision's download.
data: ## install Fashion-MNIST (Debian's dataset-fashion-mnist) when apt is available
	@if [ -z "$$CONDENSED_DATA_HOME" ] && [ ! -e $(FMNIST) ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian package dataset-fashion-mnist"; \
		$(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null \
			|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null; } \
			|| { echo "make data: apt-get could not install dataset-fashion-mnist; install it by hand, or put the" \
				"Fashion-MNIST files in a folder named by CONDENSED_DATA_HOME" >&2; exit 1; }; \
	fi

demo: setup data ## set up, then condense Fashion-MNIST with DM at IPC 10 on a short CPU budget and evaluate it
	$(BIN)/condensed-data condense --method dm --dataset fashion-mnist --ipc 10 \
		--iterations $(DEMO_ITERATIONS) --set batch_real=$(DEMO_BATCH_REAL) --eval-epochs $(DEMO_EVAL_EPOCHS) --eval-models $(DEMO_EVAL_MODELS) \
		--output out/fashion-mnist-dm-ipc10 --overwrite --download
	$(BIN)/condensed-data info out/fashion-mnist-dm-ipc10

test: setup data ## set up, then run the test suite (two workers); a missing prerequisite fails, skips are listed
	# Two single-threaded workers use both cores without oversubscribing them. Strict: a missing dataset, extra or
	# server fails its tests instead of skipping them; -rs prints whatever was skipped, and why.
	CONDENSED_DATA_STRICT_TESTS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -rs -n 2 --dist loadfile

bench: setup data ## list the benchmarks; with BENCH=NAME|all [BUDGET=cpu|gpu|all], rerun their recorded commands
	$(BIN)/python benchmarks/run.py $(BENCH) --budget $(BUDGET)

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## (.*)/  \1\t\2/' | expand -t 10

clean: ## remove .venv, out/ and the pytest cache
	rm -rf $(VENV) out .pytest_cache
