# bgassets: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench soak fuzz lint typecheck docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,fast]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m orchestrator --state-dir .demo/state run

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# 30 kill -9 of an install from a throttled nginx per rate (1 GiB at 30m), then checks.
soak: $(STAMP)
	$(PY) benchmarks/soak.py $(SOAK_ARGS)

# 10,000 generated manifests and catalogs through validate and plan, in-process.
fuzz: $(STAMP)
	$(PY) benchmarks/fuzz.py $(FUZZ_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check orchestrator tui tests benchmarks examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy orchestrator tui
	$(VENV)/bin/mypy --strict orchestrator/model orchestrator/scheduler orchestrator/engine \
		orchestrator/service/views.py orchestrator/service/controls.py orchestrator/client

docs: $(STAMP)
	$(PY) -m orchestrator.manifests.reference > docs/manifests.md.new
	mv docs/manifests.md.new docs/manifests.md

clean:
	rm -rf .demo .bench .pytest_cache .ruff_cache .mypy_cache
