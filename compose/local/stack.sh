#!/usr/bin/env bash
# The OpenAnalytics stack on one machine, without Docker: Apache Kafka (KRaft, one node),
# ClickHouse, Redis and the nginx gateway, then the pipeline's daemons once they are built.
# Everything listens on 127.0.0.1; all state (data, configs, logs, pid files) lives in one run
# directory, OA_RUN_DIR (default <repo>/.run).
#
#   stack.sh install          install missing packages and fetch the Kafka jars (install.sh)
#   stack.sh up               start whatever is not running, wait until all of it answers,
#                             create the Kafka topics, write OA_RUN_DIR/stack.env
#   stack.sh down             stop every process this run directory started
#   stack.sh status           what runs, with pids, ports and logs
#   stack.sh start NAME       start one component (kafka, clickhouse, redis, gateway, a daemon)
#   stack.sh stop NAME        stop one component
#   stack.sh restart NAME     stop, then start one component
#   stack.sh env              print the stack's environment (the contents of stack.env)
#   stack.sh logs [NAME]      follow the logs (all, or one component's)
#   stack.sh run              up, print the URLs, follow the logs; Ctrl-C brings it down
#
# Ports and other settings come from OA_* environment variables (see SETTINGS below). Data is
# kept between `down` and `up`; delete the run directory to start from scratch.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=compose/local/lib.sh
source "$HERE/lib.sh"

# --- settings -------------------------------------------------------------------------------
# Each setting and its default. The environment wins; next come the values the last `up`
# saved in OA_RUN_DIR/stack.env (so `stack.sh restart redis` keeps that stack's ports), then
# these defaults.
SETTINGS=(
        OA_KAFKA_PORT=9092                # Kafka clients (PLAINTEXT listener)
        OA_KAFKA_CONTROLLER_PORT=9093     # Kafka KRaft controller
        OA_CLICKHOUSE_HTTP_PORT=8123      # ClickHouse HTTP interface (what the daemons use)
        OA_CLICKHOUSE_TCP_PORT=9000       # ClickHouse native protocol (clickhouse-client)
        OA_REDIS_PORT=6379                # Redis
        OA_GATEWAY_PORT=8000              # nginx: the public base URL
        OA_EDGE_PORT=8080                 # oa-edge HTTP
        OA_QUERY_PORT=8081                # oa-query HTTP
        OA_SINK_METRICS_PORT=9101         # oa-sink /healthz /readyz /metrics
        OA_REALTIME_METRICS_PORT=9102     # oa-realtime /healthz /readyz /metrics
        OA_PRIVACY_METRICS_PORT=9103      # oa-privacy /healthz /readyz /metrics
        OA_REDIS_AOF=yes                  # Redis append-only file: yes (keep data) or no
        OA_BIN_DIR="$REPO/build"          # meson build directory holding the programs
)

# Ports of the infrastructure, checked free before a start and shown by `status`.
kafka_ports() { echo OA_KAFKA_PORT OA_KAFKA_CONTROLLER_PORT; }
clickhouse_ports() { echo OA_CLICKHOUSE_HTTP_PORT OA_CLICKHOUSE_TCP_PORT; }
redis_ports() { echo OA_REDIS_PORT; }
gateway_ports() { echo OA_GATEWAY_PORT; }

# Infrastructure, in start order (`down` stops it in the reverse order, after the daemons).
INFRA=(kafka clickhouse redis gateway)

# The pipeline's daemons, started once the infrastructure answers, in this order. One line
# each: NAME, PROGRAM (built by meson as $OA_BIN_DIR/services/NAME/PROGRAM), the variable
# holding the port where it answers GET /readyz, then any extra VAR=value for its environment
# (every variable of stack.env is passed already). A daemon not built yet is skipped, so the
# stack comes up at every stage of the project. For example:
#       "edge     oa-edge      OA_EDGE_PORT"
define_daemons() {
        DAEMONS=(
                "edge     oa-edge      OA_EDGE_PORT    OA_EDGE_LISTEN=127.0.0.1:$OA_EDGE_PORT"
                "query    oa-query     OA_QUERY_PORT   OA_QUERY_LISTEN=127.0.0.1:$OA_QUERY_PORT"
                "sink     oa-sink      OA_SINK_METRICS_PORT OA_SINK_LISTEN=127.0.0.1:$OA_SINK_METRICS_PORT"
        )
}

# The Kafka topics `up` makes sure of (created by `oa-admin topics ensure`).
TOPICS=(oa.events.v1 oa.projects.v1 oa.deletions.v1 oa.deadletter.v1)

# load_config: apply the settings, derive the URLs, and check the result.
load_config() {
        local setting var value line key

        OA_RUN_DIR=$(realpath -m "${OA_RUN_DIR:-$REPO/.run}")
        export OA_RUN_DIR

        # Values saved by the last `up` of this run directory, for settings not in the environment.
        if [[ -f $OA_RUN_DIR/stack.env ]]; then
                while IFS= read -r line; do
                        [[ $line =~ ^(OA_[A-Z0-9_]+)=(.*)$ ]] || continue
                        key=${BASH_REMATCH[1]}
                        is_setting "$key" || continue
                        [[ -v $key ]] && continue
                        eval "$key=${BASH_REMATCH[2]}"  # written with printf %q by write_env
                done <"$OA_RUN_DIR/stack.env"
        fi

        for setting in "${SETTINGS[@]}"; do
                var=${setting%%=*}
                value=${setting#*=}
                [[ -v $var ]] || printf -v "$var" '%s' "$value"
                export "${var?}"
        done

        for var in $(setting_names); do
                [[ $var == *_PORT ]] || continue
                if ! [[ ${!var} =~ ^[0-9]+$ ]] || ((${!var} < 1 || ${!var} > 65535)); then
                        die "$var=${!var} is not a TCP port number"
                fi
        done
        check_distinct_ports
        [[ $OA_REDIS_AOF == yes || $OA_REDIS_AOF == no ]] || die "OA_REDIS_AOF must be yes or no, not '$OA_REDIS_AOF'"
        OA_BIN_DIR=$(realpath -m "$OA_BIN_DIR")

        export OA_CACHE_DIR=${OA_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-$REPO}/.cache}/openanalytics}
        export OA_KAFKA_JAVA_OPTS=${OA_KAFKA_JAVA_OPTS:--Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
        export OA_STACK_TIMEOUT=${OA_STACK_TIMEOUT:-60}
        export OA_STOP_TIMEOUT=${OA_STOP_TIMEOUT:-15}

        export OA_BASE_URL=http://127.0.0.1:$OA_GATEWAY_PORT
        export OA_KAFKA_BROKERS=127.0.0.1:$OA_KAFKA_PORT
        export OA_CLICKHOUSE_URL=http://127.0.0.1:$OA_CLICKHOUSE_HTTP_PORT
        export OA_REDIS_URL=redis://127.0.0.1:$OA_REDIS_PORT
        export OA_STACK_CMD=$OA_RUN_DIR/stack
        LOG_DIR=$OA_RUN_DIR/log

        define_daemons
}

setting_names() {
        local setting
        for setting in "${SETTINGS[@]}"; do echo "${setting%%=*}"; done
}

is_setting() {
        local setting
        for setting in "${SETTINGS[@]}"; do
                [[ ${setting%%=*} == "$1" ]] && return 0
        done
        return 1
}

# check_distinct_ports: two components on one port would fail in a confusing way later.
check_distinct_ports() {
        local var
        local -A seen=()
        for var in $(setting_names); do
                [[ $var == *_PORT ]] || continue
                [[ -v seen[${!var}] ]] && die "$var and ${seen[${!var}]} are both ${!var}; give each its own port"
                seen[${!var}]=$var
        done
}

# write_env: OA_RUN_DIR/stack.env (what clients and daemons need, shell-sourceable) and
# OA_RUN_DIR/stack (a command that controls this run directory's stack, OA_STACK_CMD).
write_env() {
        mkdir -p "$OA_RUN_DIR"
        env_lines >"$OA_RUN_DIR/stack.env.tmp"
        mv -f "$OA_RUN_DIR/stack.env.tmp" "$OA_RUN_DIR/stack.env"
        {
                echo '#!/usr/bin/env bash'
                echo "# Controls the stack whose state is in this directory (written by stack.sh up)."
                printf 'OA_RUN_DIR=%q exec %q "$@"\n' "$OA_RUN_DIR" "$HERE/stack.sh"
        } >"$OA_STACK_CMD.tmp"
        chmod +x "$OA_STACK_CMD.tmp"
        mv -f "$OA_STACK_CMD.tmp" "$OA_STACK_CMD"
}

env_lines() {
        local var
        echo "# The local OpenAnalytics stack (written by compose/local/stack.sh)."
        echo "# Use it from a shell with: set -a; . $OA_RUN_DIR/stack.env; set +a"
        for var in OA_BASE_URL OA_KAFKA_BROKERS OA_CLICKHOUSE_URL OA_REDIS_URL \
                OA_RUN_DIR OA_STACK_CMD $(setting_names); do
                printf '%s=%q\n' "$var" "${!var}"
        done
}

# --- Kafka ----------------------------------------------------------------------------------

kafka_start() {
        local java libs opts
        java=$(need_tool java default-jre-headless)
        need_tool kcat kafkacat >/dev/null
        ensure_kafka_jars
        libs=$(kafka_lib_dir)
        DIR=$OA_RUN_DIR/kafka
        mkdir -p "$DIR/data" "$LOG_DIR"
        render "$HERE/kafka/server.properties.in" "$DIR/server.properties"
        render "$HERE/kafka/log4j2.xml.in" "$DIR/log4j2.xml"
        read -ra opts <<<"$OA_KAFKA_JAVA_OPTS"

        # KRaft storage is formatted once per run directory, with a new cluster id.
        if [[ ! -f $DIR/data/meta.properties ]]; then
                info "formatting Kafka storage in $DIR/data"
                "$java" "${opts[@]}" -Dlog4j2.configurationFile="$DIR/log4j2.xml" -cp "$libs/*" \
                        kafka.tools.StorageTool format --cluster-id="$(new_cluster_id)" \
                        --config "$DIR/server.properties" >>"$LOG_DIR/kafka.log" 2>&1 ||
                        { show_log_tail "$LOG_DIR/kafka.log"; die "formatting Kafka storage failed"; }
        fi
        launch kafka "$java" "${opts[@]}" -Dlog4j2.configurationFile="$DIR/log4j2.xml" \
                -cp "$libs/*" kafka.Kafka "$DIR/server.properties"
}

# new_cluster_id: 16 random bytes in URL-safe base64 without padding, as Kafka expects.
new_cluster_id() {
        head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

# A cheap port check first: kcat waits its whole timeout when nothing listens yet.
kafka_ready() {
        port_in_use "$OA_KAFKA_PORT" && kcat -L -b "$OA_KAFKA_BROKERS" -m 1 >/dev/null 2>&1
}

# oa_admin: path of the built oa-admin (meson puts it in services/admin/).
oa_admin() {
        local candidate
        for candidate in "$OA_BIN_DIR/services/admin/oa-admin" "$OA_BIN_DIR/oa-admin"; do
                [[ -x $candidate ]] && { echo "$candidate"; return 0; }
        done
        return 1
}

# ensure_topics: create the topics (idempotent), retrying while a new broker settles, and
# check that each one now exists. oa-admin exits 1 when Kafka fails, 2 on a usage error and
# 3 when a topic exists with settings that differ from its catalogue.
ensure_topics() {
        local admin attempt status topic log=$LOG_DIR/topics.log
        admin=$(oa_admin) || die "oa-admin is not built (looked for $OA_BIN_DIR/services/admin/oa-admin and $OA_BIN_DIR/oa-admin); it creates the Kafka topics. Run 'make build', or set OA_BIN_DIR to the meson build directory"
        for attempt in 1 2 3 4 5; do
                printf '=== %s: %s topics ensure\n' "$(date '+%F %T')" "$admin" >>"$log"
                status=0
                "$admin" topics ensure >>"$log" 2>&1 || status=$?
                case $status in
                0) break ;;
                3)
                        show_log_tail "$log"
                        die "Kafka topics differ from the catalogue (above); oa-admin changes nothing itself. Fix them by hand, or delete $OA_RUN_DIR/kafka for a fresh local Kafka"
                        ;;
                1) ((attempt < 5)) && { sleep 1; continue; } ;;
                esac
                show_log_tail "$log"
                die "'oa-admin topics ensure' failed (exit $status); see $log"
        done
        # Each topic exists and every partition has a leader.
        local deadline=$(($(now_ms) + OA_STACK_TIMEOUT * 1000))
        for topic in "${TOPICS[@]}"; do
                until [[ $(topic_meta "$topic") =~ \"$topic\"\ with\ [1-9][0-9]*\ partitions: ]]; do
                        (($(now_ms) < deadline)) || die "Kafka topic $topic is missing after 'oa-admin topics ensure': $(topic_meta "$topic")"
                        sleep 0.2
                done
        done
        wait_partition_leaders
}

# ensure_schema: `oa-admin migrate` brings ClickHouse's schema up to date (idempotent; the
# migrations are compiled into oa-admin). Exit 1 (ClickHouse failed) is retried while a
# fresh server settles; 3 means an applied migration changed, which needs a person.
ensure_schema() {
        local admin attempt status log=$LOG_DIR/migrate.log
        admin=$(oa_admin) || die "oa-admin is not built; it applies the ClickHouse schema"
        for attempt in 1 2 3 4 5; do
                printf '=== %s: %s migrate\n' "$(date '+%F %T')" "$admin" >>"$log"
                status=0
                "$admin" migrate >>"$log" 2>&1 || status=$?
                ((status == 1 && attempt < 5)) || break
                sleep 1
        done
        if ((status != 0)); then
                show_log_tail "$log"
                die "'oa-admin migrate' failed (exit $status); see $log"
        fi
}

# ensure_demo: once per run directory, `oa-admin init` (an account, a demo project and an
# owner key with every scope) and OA_RUN_DIR/demo.env with their ids and the key, readable
# by its owner only. The key is printed once by oa-admin and kept nowhere else.
ensure_demo() {
        local admin json file=$OA_RUN_DIR/demo.env log=$LOG_DIR/demo.log
        [[ -s $file ]] && return 0
        admin=$(oa_admin) || die "oa-admin is not built; it creates the demo account"
        # A broker that has just created the topic may still answer "not leader" for a
        # moment: exit 1 (Kafka failed) is retried, anything else is final.
        local attempt status
        for attempt in 1 2 3 4 5 6 7 8 9 10; do
                status=0
                json=$("$admin" init --json 2>>"$log") || status=$?
                ((status == 1 && attempt < 10)) || break
                sleep 1
        done
        if ((status != 0)); then
                show_log_tail "$log"
                die "'oa-admin init' failed (exit $status); see $log"
        fi
        (
                umask 077
                python3 -c '
import json, shlex, sys
d = json.load(sys.stdin)
print("# The demo account, project and owner key (written once by compose/local/stack.sh).")
for k, v in (("OA_DEMO_ACCOUNT_ID", d["account"]["id"]), ("OA_DEMO_PROJECT_ID", d["project"]["id"]),
             ("OA_DEMO_SITE_ID", d["project"]["site_id"]), ("OA_DEMO_KEY", d["key"]["key"])):
    print("%s=%s" % (k, shlex.quote(v)))
' <<<"$json" >"$file.tmp"
        ) || die "could not read the output of 'oa-admin init'"
        mv -f "$file.tmp" "$file"
        info "demo account, project and key written to $file"
}

# topic_meta TOPIC: what kcat says about TOPIC (no pipes: a caller may ignore SIGPIPE).
topic_meta() {
        kcat -L -b "$OA_KAFKA_BROKERS" -m 5 -t "$1" 2>&1 || true
}

# wait_partition_leaders: after a restart the broker answers a moment before it leads its
# partitions again; wait until every partition of our topics has a leader.
wait_partition_leaders() {
        local topic deadline=$(($(now_ms) + OA_STACK_TIMEOUT * 1000))
        for topic in "${TOPICS[@]}"; do
                while [[ $(topic_meta "$topic") == *"leader -1"* ]]; do
                        (($(now_ms) < deadline)) || die "Kafka topic $topic still has partitions without a leader; see $LOG_DIR/kafka.log"
                        sleep 0.2
                done
        done
}

# --- ClickHouse -----------------------------------------------------------------------------

clickhouse_start() {
        local bin
        bin=$(need_tool clickhouse-server clickhouse-server)
        need_tool curl curl >/dev/null
        DIR=$OA_RUN_DIR/clickhouse
        mkdir -p "$DIR"/{data,tmp,user_files,format_schemas} "$LOG_DIR"
        render "$HERE/clickhouse/config.xml.in" "$DIR/config.xml"
        render "$HERE/clickhouse/users.xml.in" "$DIR/users.xml"
        launch clickhouse "$bin" --config-file="$DIR/config.xml"
}

clickhouse_ready() {
        [[ $(curl -sS --max-time 2 "$OA_CLICKHOUSE_URL/ping" 2>/dev/null) == "Ok." ]]
}

# --- Redis ----------------------------------------------------------------------------------

redis_start() {
        local bin
        bin=$(need_tool redis-server redis-server)
        need_tool redis-cli redis-tools >/dev/null
        DIR=$OA_RUN_DIR/redis
        mkdir -p "$DIR" "$LOG_DIR"
        render "$HERE/redis/redis.conf.in" "$DIR/redis.conf"
        launch redis "$bin" "$DIR/redis.conf"
}

redis_ready() {
        [[ $(redis-cli -h 127.0.0.1 -p "$OA_REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

# --- gateway (nginx) ------------------------------------------------------------------------

gateway_start() {
        local bin
        bin=$(need_tool nginx nginx-light)
        need_tool curl curl >/dev/null
        DIR=$OA_RUN_DIR/gateway
        mkdir -p "$DIR"/tmp/{body,proxy,fastcgi,uwsgi,scgi} "$LOG_DIR"
        # As root, nginx would hand its workers to `nobody`, who may not reach the run directory.
        # shellcheck disable=SC2034 # used by the template
        if ((EUID == 0)); then
                NGINX_USER_LINE="user root;"
        else
                NGINX_USER_LINE="# (not root: workers run as $(id -un))"
        fi
        render "$HERE/nginx/nginx.conf.in" "$DIR/nginx.conf"
        local problems
        if ! problems=$("$bin" -t -q -p "$DIR" -c "$DIR/nginx.conf" -e "$LOG_DIR/gateway.log" 2>&1); then
                printf '%s\n' "$problems" | sed 's/^/    /' >&2
                die "the gateway configuration $DIR/nginx.conf is invalid (see above)"
        fi
        launch gateway "$bin" -p "$DIR" -c "$DIR/nginx.conf" -e "$LOG_DIR/gateway.log"
}

# The gateway's own health answer (a server block of the local config), not a backend's.
gateway_ready() {
        [[ $(curl -sS --max-time 2 -H 'Host: gateway-health.invalid' "$OA_BASE_URL/" 2>/dev/null) == ok ]]
}

# --- daemons --------------------------------------------------------------------------------

# daemon_line NAME: the DAEMONS entry of NAME.
daemon_line() {
        local line
        for line in "${DAEMONS[@]}"; do
                [[ ${line%% *} == "$1" ]] && { echo "$line"; return 0; }
        done
        return 1
}

daemon_names() {
        local line
        for line in "${DAEMONS[@]}"; do echo "${line%% *}"; done
}

is_daemon() { daemon_line "$1" >/dev/null; }

# start_daemon NAME PROGRAM PORT_VAR [VAR=value...]: start a daemon unless it runs already or
# is not built yet.
start_daemon() {
        local name=$1 bin=$2 port_var=$3 prog
        shift 3
        prog=$OA_BIN_DIR/services/$name/$bin
        if [[ ! -x $prog ]]; then
                info "$name: $prog is not built yet; skipped"
                return 0
        fi
        if running_pid "$name" >/dev/null; then
                return 0
        fi
        check_port_free "$port_var"
        info "starting $name"
        launch "$name" env "$@" "$prog"
}

daemon_ready() {
        local port_var=$1
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${!port_var}/readyz" 2>/dev/null
}

# wait_daemon NAME: wait for a launched daemon's /readyz.
wait_daemon() {
        local line fields
        line=$(daemon_line "$1")
        read -ra fields <<<"$line"
        wait_ready "$1" "$OA_STACK_TIMEOUT" daemon_ready "${fields[2]}"
}

# --- commands -------------------------------------------------------------------------------

# start_infra NAME...: start those not running (ports checked first, for all of them), then
# wait until each answers.
start_infra() {
        local name var started=()
        for name in "$@"; do
                running_pid "$name" >/dev/null && continue
                for var in $("${name}_ports"); do check_port_free "$var"; done
                started+=("$name")
        done
        for name in "${started[@]}"; do
                info "starting $name"
                "${name}_start"
        done
        for name in "$@"; do
                wait_ready "$name" "$OA_STACK_TIMEOUT" "${name}_ready"
        done
}

# start_daemons NAME...: start the given daemons, then wait until each is ready.
start_daemons() {
        local name fields
        for name in "$@"; do
                read -ra fields <<<"$(daemon_line "$name")"
                start_daemon "${fields[@]}"
        done
        for name in "$@"; do
                running_pid "$name" >/dev/null && wait_daemon "$name"
        done
        return 0
}

cmd_up() {
        local start
        start=$(now_ms)
        mkdir -p "$OA_RUN_DIR"/{log,pid}
        start_infra "${INFRA[@]}"
        ensure_topics
        ensure_schema
        ensure_demo
        write_env
        # shellcheck disable=SC2046 # one word per daemon name
        start_daemons $(daemon_names)
        info "stack ready in $(elapsed "$start"): $OA_BASE_URL (state in $OA_RUN_DIR)"
}

# stop_order: every name with a pid file that is not infrastructure (the daemons), then the
# infrastructure in reverse start order.
stop_order() {
        local file name i
        local -A infra=()
        for name in "${INFRA[@]}"; do infra[$name]=1; done
        for file in "$OA_RUN_DIR"/pid/*.pid; do
                [[ -e $file ]] || continue
                name=$(basename "$file" .pid)
                [[ -v infra[$name] ]] || echo "$name"
        done
        for ((i = ${#INFRA[@]} - 1; i >= 0; i--)); do echo "${INFRA[i]}"; done
}

cmd_down() {
        local names=() name
        for name in $(stop_order); do
                [[ -f $(pid_file "$name") ]] && names+=("$name")
        done
        if ((${#names[@]} == 0)); then
                info "nothing is running from $OA_RUN_DIR"
                return 0
        fi
        # Daemons first (they flush to Kafka, ClickHouse and Redis), then the gateway, then
        # the data stores together.
        local daemons=() stores=()
        for name in "${names[@]}"; do
                case $name in
                gateway) ;;
                kafka | clickhouse | redis) stores+=("$name") ;;
                *) daemons+=("$name") ;;
                esac
        done
        ((${#daemons[@]})) && stop_processes "$OA_STOP_TIMEOUT" "${daemons[@]}"
        stop_processes "$OA_STOP_TIMEOUT" gateway
        ((${#stores[@]})) && stop_processes "$OA_STOP_TIMEOUT" "${stores[@]}"
        info "stopped (data kept in $OA_RUN_DIR)"
}

# known NAME: fail unless NAME is a component of this stack.
# shellcheck disable=SC2046 # one word per daemon name
known() {
        local name
        for name in "${INFRA[@]}" $(daemon_names); do
                [[ $name == "$1" ]] && return 0
        done
        local all
        all=$(printf '%s ' "${INFRA[@]}" $(daemon_names))
        die "unknown component '$1' (known: ${all% })"
}

cmd_start() {
        local name=${1:?usage: stack.sh start NAME}
        known "$name"
        mkdir -p "$OA_RUN_DIR"/{log,pid}
        write_env
        if is_daemon "$name"; then
                start_daemons "$name"
        else
                start_infra "$name"
                [[ $name == kafka ]] && wait_partition_leaders
        fi
        info "$name is running (pid $(running_pid "$name" || echo '?'))"
}

cmd_stop() {
        local name=${1:?usage: stack.sh stop NAME}
        [[ -f $(pid_file "$name") ]] || known "$name"
        if running_pid "$name" >/dev/null; then
                stop_processes "$OA_STOP_TIMEOUT" "$name"
        else
                info "$name is not running"
        fi
}

# shellcheck disable=SC2046 # one word per daemon name
cmd_status() {
        local name pid state ports var fields
        printf '%-12s %-9s %-8s %-40s %s\n' NAME STATE PID PORTS LOG
        for name in "${INFRA[@]}" $(daemon_names); do
                ports=""
                state=stopped
                if is_daemon "$name"; then
                        read -ra fields <<<"$(daemon_line "$name")"
                        var=${fields[2]}
                        ports="${!var} ($var)"
                        [[ -x $OA_BIN_DIR/services/$name/${fields[1]} ]] || state="not built"
                else
                        for var in $("${name}_ports"); do ports+="${ports:+, }${!var} ($var)"; done
                fi
                if pid=$(running_pid "$name"); then state=running; else pid=-; fi
                printf '%-12s %-9s %-8s %-40s %s\n' "$name" "$state" "$pid" "$ports" "$LOG_DIR/$name.log"
        done
}

cmd_logs() {
        local files=()
        if [[ -n ${1:-} ]]; then
                files=("$LOG_DIR/$1.log")
                [[ -f ${files[0]} ]] || die "no log for '$1' in $LOG_DIR"
        else
                files=("$LOG_DIR"/*.log)
                [[ -e ${files[0]} ]] || die "no logs in $LOG_DIR yet"
        fi
        exec tail -n 20 -F "${files[@]}"
}

# run: the stack for a developer's terminal (make run).
cmd_run() {
        cmd_up
        echo
        echo "OpenAnalytics is up."
        echo "  API and console:  $OA_BASE_URL"
        echo "  ClickHouse:       $OA_CLICKHOUSE_URL    Kafka: $OA_KAFKA_BROKERS    Redis: $OA_REDIS_URL"
        echo "  state and logs:   $OA_RUN_DIR"
        echo
        echo "--- $OA_RUN_DIR/stack.env"
        grep -v '^#' "$OA_RUN_DIR/stack.env"
        if [[ -f $OA_RUN_DIR/demo.env ]]; then
                echo "--- $OA_RUN_DIR/demo.env"
                cat "$OA_RUN_DIR/demo.env"
        fi
        echo
        echo "Following the logs; press Ctrl-C to stop the stack."
        echo
        tail -n 0 -F "$LOG_DIR"/*.log &
        TAIL_PID=$!
        trap 'kill "$TAIL_PID" 2>/dev/null; echo; cmd_down; exit 0' INT TERM
        wait "$TAIL_PID" || true
        cmd_down
}

usage() {
        sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit "${1:-0}"
}

main() {
        local cmd=${1:-}
        [[ -n $cmd ]] || usage 2
        shift
        case $cmd in
        -h | --help | help) usage 0 ;;
        install) exec "$HERE/install.sh" "$@" ;;
        esac
        load_config
        case $cmd in
        up) cmd_up ;;
        down) cmd_down ;;
        status) cmd_status ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        restart)
                cmd_stop "$@"
                cmd_start "$@"
                ;;
        env) env_lines ;;
        logs) cmd_logs "$@" ;;
        run) cmd_run ;;
        *)
                echo "unknown command '$cmd'" >&2
                usage 2
                ;;
        esac
}

main "$@"
