PY ?= python3.11
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup setup-test test demo clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	$(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

# The test suite also needs the optional extras (Ray: requirements-ray.txt); the demo does not.
setup-test: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP) requirements-ray.txt
	$(PYTHON) -m pip install -q -r requirements-ray.txt
	touch $(TEST_STAMP)

test: setup-test
	$(PYTHON) -m pytest -q tests

demo: setup
	$(PYTHON) run.py pipeline --config configs/demo.yaml --out runs/demo --resume

clean:
	rm -rf $(VENV) runs
