#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages sluice needs, and only those that are missing:
# a second run installs nothing and does not even refresh the package lists.
#   scripts/setup.sh          build and run (compiler, libraries, redis-server, kcat)
#   scripts/setup.sh --test   also what the test suite needs (browser, load
#                             generator, Node.js, Java 17 + Maven for the real
#                             Kafka broker of the integration tests)
set -euo pipefail

usage() {
  echo "usage: scripts/setup.sh [--test]"
}

with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

# Build and runtime: why each one is needed is in README.md ("Dependencies").
packages=(build-essential cmake ninja-build pkg-config
  librdkafka-dev libavro-dev liblua5.4-dev libhiredis-dev libevent-dev libssl-dev
  libcunit1-dev libjansson-dev libmosquitto-dev redis-server kcat
  libcoap3-dev libpq-dev)
if [[ $with_test == 1 ]]; then
  # fonts-liberation: the headless browser renders the dashboard with it.
  # curl and ca-certificates: end-to-end scripts talk HTTP, and Maven fetches
  # the Kafka broker jars over TLS.
  # mosquitto: the MQTT broker the gateway's end-to-end test subscribes to.
  # openssl: the https tests make a self-signed certificate with it.
  # libcoap3-bin: coap-client, the CoAP client of the gateway's CoAP test.
  # clang and libclang-rt-14-dev: the fuzz targets (libFuzzer, tests/fuzz/).
  packages+=(chromium fonts-liberation wrk curl ca-certificates mosquitto mosquitto-clients
    openssl libcoap3-bin clang libclang-rt-14-dev)
  # postgresql: the postgres_sink tests, e2e script and benchmark start a private cluster.
  packages+=(postgresql)
  # python3: scripts/check_layers.py (CTest check_layers) and the port pickers.
  packages+=(python3)
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for p in "${packages[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [[ $with_test == 1 ]]; then
  # Node.js may come from another repository (NodeSource ships npm inside its
  # nodejs package, and Debian's npm would conflict with it): ask for the
  # commands, not for Debian's package names.
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  java_major=0
  if command -v java >/dev/null 2>&1; then
    # `java -version` prints e.g.: openjdk version "17.0.15" 2025-04-15
    java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  fi
  if [[ -z "$java_major" || "$java_major" -lt 17 ]]; then
    is_installed openjdk-17-jre-headless || missing+=(openjdk-17-jre-headless)
  fi
  command -v mvn >/dev/null 2>&1 || is_installed maven || missing+=(maven)
fi

if [[ ${#missing[@]} == 0 ]]; then
  echo "setup: all needed packages are present"
  exit 0
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup: missing packages (${missing[*]}) and not root; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "setup: installing ${missing[*]}"
# Other apt users (unattended upgrades, a parallel build) may hold the dpkg
# lock for a while: wait for it instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" -q update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" -q install -y \
  --no-install-recommends "${missing[@]}"
echo "setup: installed ${missing[*]}"
