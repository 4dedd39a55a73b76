#!/usr/bin/env bash
# Builds the Go client from protos/ with Debian's Go toolchain and packages (golang-go, protobuf-compiler,
# protoc-gen-go, protoc-gen-go-grpc, golang-google-grpc-dev, golang-google-protobuf-dev; `make setup` installs them):
# the stubs are generated into a GOPATH of its own, the libraries come from Debian's /usr/share/gocode, nothing is
# downloaded.   clients/go/build.sh OUT_DIR   ->   OUT_DIR/bin/llama-mesh-go
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
mkdir -p "$out/gopath/src" "$out/bin"
cd "$root/protos"
protoc -I . -I /usr/include --go_out="$out/gopath/src" --go-grpc_out="$out/gopath/src" $(find llama -name '*.proto' | sort)
cd "$here"
GOPATH="$out/gopath:/usr/share/gocode" GO111MODULE=off GOFLAGS= GOCACHE="$out/cache" go build -o "$out/bin/llama-mesh-go" .
