# OpenAnalytics: a thin entry point. The work is done by meson and by the scripts in
# compose/local/ (the local stack without Docker) and tests/integration/run.sh.
#
#   make run       install what is missing, build, start the stack and follow its logs;
#                  Ctrl-C stops the stack
#   make up        build, then start the local stack in the background (state, logs: .run/)
#   make down      stop it (its data is kept)
#   make status    what is running, with ports and logs
#   make install   install missing Debian packages and fetch the Kafka jars (once)
#   make build     configure (debug, ASan + UBSan) once, then compile into build/
#   make test      install, build, unit tests, the libFuzzer harnesses for a bounded time
#                  (OA_FUZZ_SECONDS, default 60), the SQL on chdb (make compat), then
#                  integration tests on their own stack
#   make bench     run the benchmarks (bench/run.sh)
#   make clean     remove build/ and the integration tests' stack (.run-test/)

BUILD_DIR ?= build
STACK     := compose/local/stack.sh

# The stack starts the programs meson built here (unless OA_BIN_DIR says otherwise).
export OA_BIN_DIR ?= $(abspath $(BUILD_DIR))

# Each step runs meson or a script that parallelises on its own; keep the steps in order.
.NOTPARALLEL:
.PHONY: help run up down status install build test unit compat integration fuzz bench clean

help:
	@sed -n '1,/^$$/s/^# \{0,1\}//p' Makefile

install:
	@compose/local/install.sh

build:
	@test -f $(BUILD_DIR)/build.ninja || meson setup $(BUILD_DIR) -Db_sanitize=address,undefined
	meson compile -C $(BUILD_DIR)

run: install build
	@$(STACK) run

up: build
	@$(STACK) up

down:
	@$(STACK) down

status:
	@$(STACK) status

test: install build unit fuzz compat integration

unit:
	meson test -C $(BUILD_DIR) -v --suite unit

compat:
	meson test -C $(BUILD_DIR) -v --suite compat

integration:
	@tests/integration/run.sh

fuzz:
	@tests/fuzz/run.sh

bench:
	@if [ -x bench/run.sh ]; then bench/run.sh; else echo "bench/run.sh does not exist yet: nothing to run"; fi

clean:
	@OA_RUN_DIR=$(CURDIR)/.run-test $(STACK) down
	rm -rf $(BUILD_DIR) build-fuzz .run-test
