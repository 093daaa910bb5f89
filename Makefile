# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make lab   - makes .venv, installs, opens the course in JupyterLab
#   make test  - makes .venv, installs, runs every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# JupyterLab refuses to run as root unless told; containers and CI often are root.
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: lab test labs benchmarks clean

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Lambda Lab needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(INSTALLED)

lab: $(INSTALLED)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT) notebooks/00-welcome.ipynb

test: $(INSTALLED)
	bash tests/install-test-tools.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax tests notebooks solutions

labs: $(INSTALLED)
	$(BIN)/lambdalab course build

benchmarks: $(INSTALLED)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest-tmp
