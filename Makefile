# Set-up and entry points. `make demo` runs the main job, `make test` the test suite; both
# create the virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch/torchvision are pinned: these wheels lie on the development machines' disk.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: venv demo test ngspice bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[test,bo,ray,vision]'
	touch $@

# ngspice is a Debian package (the analog module's SPICE backend).
ngspice:
	@command -v ngspice >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq ngspice libngspice0 >/dev/null; }

demo: venv
	$(VENV)/bin/reram-bn-search --out results/bn_search --overwrite

# Tests run in TEST_WORKERS processes (pytest-xdist), one torch/numba thread each: the 2-core
# machines run the suite in about 7.5 minutes instead of 12.
TEST_WORKERS ?= 2

test: venv ngspice
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(VENV)/bin/pytest -q -n $(TEST_WORKERS) tests

bench: venv
	$(PY) benchmarks/bench_layers.py

clean:
	rm -rf $(VENV) results .pytest_cache
