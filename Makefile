# The two set-up commands of the README:
#   make studio   install, then open the studio on a demo workspace
#   make test     install, then run the tests (what .ci/run calls)
PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
WORKSPACE  ?= stickgen-workspace
BIN        := $(VENV)/bin

.PHONY: install studio demo test bench clean-venv

# torch goes in first, from the machine's own build: an unpinned torch pulled in by
# another package would fetch a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[gui,dev]"
	touch $@

install: $(VENV)/.installed

studio: install
	$(BIN)/stickgen-studio --demo-if-empty "$(WORKSPACE)"

demo: install
	$(BIN)/stickgen demo --workspace "$(WORKSPACE)"

# two test processes (pytest-xdist): the suite is mostly waiting on one core at a time (training subprocesses,
# GUI event loops); TEST_WORKERS=0 runs it in one process
TEST_WORKERS ?= 2

test: install
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS))

bench: install
	$(BIN)/python tests/benchmarks/bench_io.py
	$(BIN)/python tests/benchmarks/bench_curation.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python tests/benchmarks/bench_studio.py
	$(BIN)/python tests/benchmarks/bench_train.py
	$(BIN)/python tests/benchmarks/bench_inference.py

clean-venv:
	rm -rf $(VENV)
