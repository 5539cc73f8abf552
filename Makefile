PY ?= python3.11
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

FASHION := /usr/share/datasets/fashion-mnist

.PHONY: setup setup-test data test demo clean

setup: $(STAMP) data

# Fashion-MNIST from Debian's dataset-fashion-mnist (the four IDX files in $(FASHION)), where
# apt-get is available and we are root; skipped quietly otherwise (docs/data.md: how to get the files).
data:
	@if [ ! -d $(FASHION) ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
	    || echo "dataset-fashion-mnist not installed; the tests that read it will be skipped"; \
	fi

$(STAMP): requirements.txt requirements-nodeps.txt
	$(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

# The test suite also needs the optional extras (Ray: requirements-ray.txt); the demo does not.
setup-test: setup $(TEST_STAMP)

$(TEST_STAMP): $(STAMP) requirements-ray.txt
	$(PYTHON) -m pip install -q -r requirements-ray.txt
	touch $(TEST_STAMP)

test: setup-test
	$(PYTHON) -m pytest -q tests

demo: setup
	$(PYTHON) run.py pipeline --config configs/demo.yaml --out runs/demo --resume

clean:
	rm -rf $(VENV) runs
