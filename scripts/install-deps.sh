#!/usr/bin/env bash
# Installs every Debian 12 package orch needs to build and test. Idempotent: packages
# already present are left alone, and a second run changes nothing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev          # libFuzzer and sanitizer runtimes for clang
  # libraries (DESIGN.md, "Dependencies, and why each")
  libabsl-dev
  libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc
  libcurl4-openssl-dev
  libyaml-cpp-dev
  libfmt-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  pybind11-dev python3-dev
  # real components the integration tests start (DESIGN.md, "Dependencies"): containerd
  # with runc and the CNI plugins, iproute2 to remove the test bridges; umoci,
  # busybox-static, gcc and libc6-dev (a static pause binary) build the local test images
  # (scripts/build-test-images.sh), since no registry is reachable
  containerd runc containernetworking-plugins iproute2
  # nft, which NftablesNetwork runs to program the kernel (its tests program network
  # namespaces they make themselves)
  nftables
  umoci busybox-static gcc libc6-dev
  # etcd 3.4, started on loopback by the EtcdStore tests (tests/support/etcd_fixture.h),
  # and openssl to make the certificates of its TLS test
  etcd-server openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=
[[ $(id -u) -ne 0 ]] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
