# shellcheck shell=bash
# Helpers shared by compose/local/stack.sh and compose/local/install.sh (sourced, not run).
#
# They assume bash 5, `set -euo pipefail` in the caller, and REPO set to the repository root.
# Nothing here starts a service: it prints, renders config templates, checks ports and pid
# files, waits for a probe, and fetches the Kafka jars into a cache outside the run directory.

# --- messages -------------------------------------------------------------------------------
# Lines start with [LOG_PREFIX] (default "stack").

# info MESSAGE...: a progress line on stderr, so stdout stays clean for `env` and `status`.
info() { printf '[%s] %s\n' "${LOG_PREFIX:-stack}" "$*" >&2; }

# die MESSAGE...: print an error and exit non-zero.
die() {
        printf '[%s] error: %s\n' "${LOG_PREFIX:-stack}" "$*" >&2
        exit 1
}

# show_log_tail FILE: the last lines of a log, indented, to explain a failure.
show_log_tail() {
        local file=$1
        if [[ -s $file ]]; then
                printf '[%s] last lines of %s:\n' "${LOG_PREFIX:-stack}" "$file" >&2
                tail -n 25 "$file" | sed 's/^/    /' >&2
        fi
}

# now_ms: wall-clock milliseconds, for timings and deadlines.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# elapsed START_MS: the time since START_MS, like "12.3s".
elapsed() {
        local ms=$(($(now_ms) - $1))
        printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

# --- tools ----------------------------------------------------------------------------------

# find_tool NAME: print the path of a program, also looking in the sbin directories that a
# non-root PATH often lacks (Debian puts nginx and clickhouse-server there).
find_tool() {
        local name=$1 dir
        if command -v "$name" >/dev/null 2>&1; then
                command -v "$name"
                return 0
        fi
        for dir in /usr/sbin /sbin /usr/local/sbin; do
                if [[ -x $dir/$name ]]; then
                        echo "$dir/$name"
                        return 0
                fi
        done
        return 1
}

# need_tool NAME PACKAGE: like find_tool, but exits with a hint when the program is missing.
need_tool() {
        find_tool "$1" || die "'$1' is not installed (Debian package $2); run compose/local/install.sh"
}

# --- templates ------------------------------------------------------------------------------

# render TEMPLATE OUTPUT: copy TEMPLATE to OUTPUT replacing every @NAME@ with the value of the
# shell variable NAME. An unset variable is an error, so a typo cannot leave a hole in a config.
render() {
        local template=$1 output=$2 content name
        content=$(<"$template")
        for name in $(grep -o '@[A-Z][A-Z0-9_]*@' "$template" | tr -d @ | sort -u); do
                [[ -v $name ]] || die "$template uses @$name@ but $name is not set"
                content=${content//"@$name@"/"${!name}"}
        done
        printf '%s\n' "$content" >"$output.tmp"
        mv -f "$output.tmp" "$output"
}

# --- ports ----------------------------------------------------------------------------------

# port_in_use PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
        timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# port_holder PORT: a short description of the process listening on PORT, when `ss` can say.
port_holder() {
        local line
        command -v ss >/dev/null 2>&1 || return 0
        line=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o -m 1 'users:(([^)]*))' 2>/dev/null || true)
        [[ -n $line ]] && printf ' (held by %s)' "$line"
        return 0
}

# check_port_free VAR: fail clearly when the port in variable VAR is taken by another process.
check_port_free() {
        local var=$1 port=${!1}
        local other=$((port + 10000))
        ((other > 65535)) && other=$((port - 10000))
        if port_in_use "$port"; then
                die "port $port ($var) is already in use$(port_holder "$port"); stop that process or choose another port, e.g. $var=$other"
        fi
}

# --- processes ------------------------------------------------------------------------------
# Every process is started by `launch` with its working directory inside OA_RUN_DIR, its pid in
# OA_RUN_DIR/pid/NAME.pid and its output appended to OA_RUN_DIR/log/NAME.log. A pid file
# whose process is gone, or whose pid now belongs to a process running elsewhere (pid reuse
# after a reboot), is stale: it is removed and never signalled.

pid_file() { echo "$OA_RUN_DIR/pid/$1.pid"; }

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
        local state
        kill -0 "$1" 2>/dev/null || return 1
        state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1 || true)
        [[ -n $state && $state != Z ]]
}

# running_pid NAME: print the pid of NAME and succeed if it is alive and ours; else clean up.
running_pid() {
        local file pid cwd
        file=$(pid_file "$1")
        [[ -f $file ]] || return 1
        pid=$(<"$file")
        if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
                cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
                if [[ $cwd == "$OA_RUN_DIR"/* ]]; then
                        echo "$pid"
                        return 0
                fi
        fi
        rm -f "$file"
        return 1
}

# launch NAME COMMAND...: start COMMAND in the background in its own session (so a Ctrl-C in
# the terminal does not reach it; `down` stops it), in OA_RUN_DIR/NAME, and record its pid.
# `setsid` execs the command without forking because this non-interactive shell has no job
# control, so $! is the pid of the program itself.
launch() {
        local name=$1 log
        shift
        log=$OA_RUN_DIR/log/$name.log
        mkdir -p "$OA_RUN_DIR/$name" "$OA_RUN_DIR/log" "$OA_RUN_DIR/pid"
        printf '=== %s: starting %s: %s\n' "$(date '+%F %T')" "$name" "$*" >>"$log"
        (cd "$OA_RUN_DIR/$name" && exec setsid "$@" >>"$log" 2>&1 </dev/null) &
        echo "$!" >"$(pid_file "$name")"
}

# stop_processes TIMEOUT NAME...: SIGTERM every running NAME at once, wait up to TIMEOUT
# seconds for all of them to exit, then SIGKILL whatever is left. Only pids from our pid files.
stop_processes() {
        local timeout=$1 name pid deadline left
        shift
        local -A pids=()
        for name in "$@"; do
                if pid=$(running_pid "$name"); then
                        pids[$name]=$pid
                        info "stopping $name (pid $pid)"
                        kill -TERM "$pid" 2>/dev/null || true
                fi
        done
        deadline=$(($(now_ms) + timeout * 1000))
        while :; do
                left=()
                for name in "${!pids[@]}"; do
                        alive "${pids[$name]}" && left+=("$name")
                done
                ((${#left[@]} == 0)) && break
                if (($(now_ms) > deadline)); then
                        for name in "${left[@]}"; do
                                info "$name (pid ${pids[$name]}) did not stop within ${timeout}s: SIGKILL"
                                kill -KILL "${pids[$name]}" 2>/dev/null || true
                        done
                        sleep 0.2
                        break
                fi
                sleep 0.1
        done
        for name in "${!pids[@]}"; do
                rm -f "$(pid_file "$name")"
        done
}

# wait_ready NAME TIMEOUT PROBE [ARG...]: run PROBE ARG... until it succeeds. Fails early, with
# the log, if the process of NAME exits; fails with the log after TIMEOUT seconds.
wait_ready() {
        local name=$1 timeout=$2 deadline log
        shift 2
        log=$OA_RUN_DIR/log/$name.log
        deadline=$(($(now_ms) + timeout * 1000))
        until "$@"; do
                if ! running_pid "$name" >/dev/null; then
                        show_log_tail "$log"
                        die "$name exited while starting; see $log"
                fi
                if (($(now_ms) > deadline)); then
                        show_log_tail "$log"
                        die "$name did not become ready within ${timeout}s; see $log"
                fi
                sleep 0.2
        done
}

# --- Kafka jars -----------------------------------------------------------------------------
# The broker runs from the jars that Maven resolves for compose/local/kafka/pom.xml. They are
# fetched once into OA_CACHE_DIR (outside the run directory, so wiping .run needs no network).
# A stamp holding the pom's checksum marks a complete fetch; editing the pom fetches again.

KAFKA_POM=$REPO/compose/local/kafka/pom.xml

# kafka_version: the Kafka version the pom asks for.
kafka_version() {
        sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM"
}

# kafka_lib_dir: where the jars of that version live.
kafka_lib_dir() {
        echo "$OA_CACHE_DIR/kafka-$(kafka_version)"
}

# kafka_jars_present: true when the cache holds a complete fetch for the current pom.
kafka_jars_present() {
        local dir
        dir=$(kafka_lib_dir)
        [[ -f $dir/.pom.sha256 ]] && [[ $(<"$dir/.pom.sha256") == "$(sha256sum <"$KAFKA_POM" | cut -d' ' -f1)" ]]
}

# ensure_kafka_jars: fetch the jars with Maven unless the cache already has them.
ensure_kafka_jars() {
        local dir tmp version start
        kafka_jars_present && return 0
        command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed once to fetch the Kafka jars; run compose/local/install.sh"
        version=$(kafka_version)
        dir=$(kafka_lib_dir)
        tmp=$dir.partial.$$
        info "fetching Apache Kafka $version jars from Maven Central into $dir (once)"
        start=$(now_ms)
        rm -rf "$tmp"
        mkdir -p "$tmp"
        # Maven's output is kept for a failure only (-q still prints colour resets).
        if ! mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
                -DoutputDirectory="$tmp" -DincludeScope=runtime >"$tmp.log" 2>&1; then
                sed 's/\x1b\[[0-9;]*m//g' "$tmp.log" >&2
                rm -rf "$tmp" "$tmp.log"
                die "mvn could not fetch the Kafka jars (network? a proxy in ~/.m2/settings.xml?)"
        fi
        rm -f "$tmp.log"
        [[ -f $tmp/kafka_2.13-$version.jar ]] || {
                rm -rf "$tmp"
                die "mvn finished but kafka_2.13-$version.jar is missing from its output"
        }
        sha256sum <"$KAFKA_POM" | cut -d' ' -f1 >"$tmp/.pom.sha256"
        rm -rf "$dir"
        mv "$tmp" "$dir"
        info "Kafka jars ready in $(($(now_ms) - start)) ms"
}
