# Shell helpers of the benchmark runners (bench/*/run.sh, bench/stack/up.sh); sourced, not
# run. The runner sets REPO, STACK, TMP, ADMIN and the array PIDS before using what needs
# them, and defines say and die.

# bench_ports OFFSET: every port of the local stack shifted by OFFSET (a private stack next
# to `make up` and the integration tests), Redis without its append-only file, and Kafka's
# JVM as in production: the local stack's default stops the JIT at C1 and keeps a small heap
# (it starts faster for tests), which made the broker, sharing this machine's two cores
# with the daemon measured, spend about half again as much CPU per event.
bench_ports() {
        local offset=$1
        export OA_KAFKA_PORT=$((9092 + offset)) OA_KAFKA_CONTROLLER_PORT=$((9093 + offset))
        export OA_CLICKHOUSE_HTTP_PORT=$((8123 + offset)) OA_CLICKHOUSE_TCP_PORT=$((9000 + offset))
        export OA_REDIS_PORT=$((6379 + offset)) OA_GATEWAY_PORT=$((8000 + offset))
        export OA_EDGE_PORT=$((8080 + offset)) OA_QUERY_PORT=$((8081 + offset))
        export OA_SINK_METRICS_PORT=$((9101 + offset)) OA_REALTIME_METRICS_PORT=$((9102 + offset))
        export OA_PRIVACY_METRICS_PORT=$((9103 + offset)) OA_REDIS_AOF=no
        export OA_KAFKA_JAVA_OPTS=${OA_KAFKA_JAVA_OPTS:--Xms512m -Xmx1g -XX:+UseSerialGC}
}

# bench_stack_up: start the stack of OA_RUN_DIR unless its Kafka and Redis run (then
# STARTED_STACK=1, and bench_cleanup stops it again), and export its settings (stack.env).
# (`stack.sh status` succeeds whatever it lists: read the states.)
bench_stack_up() {
        local running
        STARTED_STACK=
        running=$("$STACK" status 2>/dev/null | awk '($1 == "kafka" || $1 == "redis") && $2 == "running"' | wc -l)
        if [[ ! -f $OA_RUN_DIR/stack.env ]] || ((running < 2)); then
                say "starting the stack in $OA_RUN_DIR"
                "$STACK" up >&2
                STARTED_STACK=1
        fi
        set -a
        # shellcheck disable=SC1091
        . "$OA_RUN_DIR/stack.env"
        set +a
}

# bench_cleanup: stop the processes in PIDS (by pid), the stack when this run started it,
# and remove TMP. For `trap bench_cleanup EXIT`. With BENCH_WIPE_KAFKA=1 (a runner whose
# events are disposable) a stack it started also loses its Kafka data: a week's retention
# of benchmark traffic (gigabytes per run) filled this machine's disk once, and the broker
# stopped with it. The next start formats a fresh cluster.
bench_cleanup() {
        for pid in "${PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        for pid in "${PIDS[@]}"; do
                wait "$pid" 2>/dev/null || true
        done
        if [[ -n ${STARTED_STACK:-} ]]; then
                "$STACK" down >&2 || true
                if [[ ${BENCH_WIPE_KAFKA:-} == 1 && -d $OA_RUN_DIR/kafka/data ]]; then
                        rm -rf "$OA_RUN_DIR/kafka/data"
                fi
        fi
        rm -rf "$TMP"
}

json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# admin FIELD ARGS...: run oa-admin --json, print one field of its answer.
admin() {
        local field=$1 out
        shift
        out=$("$ADMIN" "$@" --json 2>"$TMP/admin.err") || { cat "$TMP/admin.err" >&2; die "oa-admin $1 $2 failed"; }
        json_field "$field" <<<"$out"
}

# bench_wait_ready NAME PORT: wait for the /readyz of the daemon just started (the last of
# PIDS, logging to TMP/NAME.log), at most 30 s.
bench_wait_ready() {
        for _ in $(seq 1 300); do
                if curl -fs "http://127.0.0.1:$2/readyz" >/dev/null 2>&1; then
                        return 0
                fi
                sleep 0.1
        done
        cat "$TMP/$1.log" >&2
        die "$1 did not become ready"
}

# bench_build TARGET...: check for wrk, python3 and curl, set up BUILD (release, no
# sanitizers, no tests) when missing, and compile the targets.
bench_build() {
        local tool
        for tool in wrk python3 curl; do
                command -v "$tool" >/dev/null || die "$tool is not installed"
        done
        if [[ ! -f $BUILD/build.ninja ]]; then
                say "configuring $BUILD (release, no tests)"
                meson setup "$BUILD" "$REPO" --buildtype=release -Dtests=false >/dev/null
        fi
        meson compile -C "$BUILD" "$@" >/dev/null
}
