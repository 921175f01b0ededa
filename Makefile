# bgassets: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench lint typecheck docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m orchestrator --state-dir .demo/state run

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check orchestrator tui tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict orchestrator/model orchestrator/scheduler orchestrator/engine

docs: $(STAMP)
	$(PY) -m orchestrator.manifests.reference > docs/manifests.md.new
	mv docs/manifests.md.new docs/manifests.md

clean:
	rm -rf .demo .bench .pytest_cache .ruff_cache .mypy_cache
