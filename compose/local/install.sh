#!/usr/bin/env bash
# Installs what building, testing and running OpenAnalytics without Docker needs on Debian 12,
# and nothing that is there already:
#   1. Debian packages: compilers and libraries for the build, the test tools, and the
#      infrastructure of the local stack (ClickHouse, Redis, nginx, kcat, Java and Maven).
#   2. The Apache Kafka jars, fetched once with Maven into OA_CACHE_DIR
#      (default ~/.cache/openanalytics) so that starting the stack needs no network.
#   3. The npm packages of tests/openapi_import (npm ci into its node_modules, git-ignored).
# When everything is present it only asks dpkg once and returns (well under a second).
# Works unattended (CI=true, no stdin): apt runs non-interactively. Needs root (or sudo)
# only when a package is missing.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=compose/local/lib.sh
source "$HERE/lib.sh"
LOG_PREFIX=install

export OA_CACHE_DIR=${OA_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-$REPO}/.cache}/openanalytics}

PACKAGES=(
        # build
        meson ninja-build pkg-config gcc libc6-dev
        # libraries (DESIGN.md lists them with their pkg-config names)
        libh2o-evloop-dev librdkafka-dev libyajl-dev libhiredis-dev libcurl4-openssl-dev
        libprotobuf-c-dev protobuf-c-compiler libloc-dev libloc-database uap-core
        libpcre2-dev libssl-dev
        # tests (criterion for C; python3 with PyYAML and pytest for the Python-driven ones;
        # clang and its runtime for the libFuzzer harnesses; wrk for the benchmarks)
        libcriterion-dev python3 python3-yaml python3-pytest python3-pip curl ca-certificates
        clang libclang-rt-14-dev wrk
        # the local stack
        clickhouse-server clickhouse-client redis-server nginx-light kafkacat
)
# Java and Maven come from Debian unless the machine has them already (any Java 17+ will do).
command -v java >/dev/null 2>&1 || PACKAGES+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || PACKAGES+=(maven)
# Node and npm for tests/openapi_import (the OpenAPI converters of Postman, Insomnia and Bruno)
# come from Debian unless the machine has them already (any Node 18+ will do).
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

# missing_packages PACKAGE...: print those not installed, asking dpkg once for all of them.
missing_packages() {
        local installed
        installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null |
                awk '$1 == "ii" { print $2 }' || true)
        comm -23 <(printf '%s\n' "$@" | sort -u) <(printf '%s\n' "$installed" | sort -u)
}

install_packages() {
        local missing sudo=()
        command -v dpkg-query >/dev/null 2>&1 || die "this installer expects Debian 12 (dpkg and apt)"
        mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
        if ((${#missing[@]} == 0)); then
                info "Debian packages: all ${#PACKAGES[@]} present"
                return 0
        fi
        if ((EUID != 0)); then
                command -v sudo >/dev/null 2>&1 ||
                        die "missing packages: ${missing[*]}; run this script as root (apt-get needs it)"
                sudo=(sudo)
        fi
        info "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
        mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
        ((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
}

# The converters Postman, Insomnia and Bruno import OpenAPI with (npm, exact versions in
# tests/openapi_import/package-lock.json), into tests/openapi_import/node_modules: once, and
# again only when the lock file changed (a copy of it in node_modules says what is there).
ensure_openapi_import_modules() {
        local dir=$REPO/tests/openapi_import
        local stamp=$dir/node_modules/.oa-package-lock.json
        cmp -s "$dir/package-lock.json" "$stamp" && return 0
        command -v npm >/dev/null 2>&1 || die "npm is missing: tests/openapi_import needs it"
        info "installing the OpenAPI converters of tests/openapi_import (npm ci)"
        (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null) ||
                die "npm ci in $dir failed (is the npm registry reachable?); the OpenAPI import test (meson test openapi_import) needs its packages"
        cp "$dir/package-lock.json" "$stamp"
}

install_packages
ensure_kafka_jars
info "Kafka jars: $(kafka_lib_dir)"
# The tests' Python modules come from Debian (python3-yaml, python3-pytest above). Tests run
# with the first python3 on PATH, which may be another interpreter (pyenv, a venv) that does
# not see Debian's modules: give that one the same modules from PyPI. The OpenAPI validator
# (openapi-spec-validator, a real OpenAPI 3.1 validator) is not packaged by Debian 12, nor
# are schemathesis (the API contract run of the stats tests) and chdb (current ClickHouse
# in process: the stats SQL checked on today's engine, not only on Debian's 18.16).
if ! python3 -c 'import yaml, pytest, openapi_spec_validator, schemathesis, chdb' >/dev/null 2>&1; then
        info "installing PyYAML, pytest, openapi-spec-validator, schemathesis and chdb for $(command -v python3)"
        PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check \
                pyyaml pytest openapi-spec-validator schemathesis chdb </dev/null ||
                die "$(command -v python3) lacks PyYAML, pytest, openapi-spec-validator, schemathesis or chdb and pip could not install them"
fi
# chdb (a current ClickHouse engine in process, from PyPI): tests/compat/test_chdb.py runs the
# schema and oa-sink's SQL on it, as Compose and Kubernetes users' ClickHouse would.
if ! python3 -c 'import chdb' >/dev/null 2>&1; then
        info "installing chdb for $(command -v python3)"
        PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check chdb </dev/null ||
                die "$(command -v python3) lacks chdb and pip could not install it (tests/compat needs it)"
fi
ensure_openapi_import_modules
info "OpenAPI converters: tests/openapi_import/node_modules"
