#!/usr/bin/env bash
# The gateway's routing, end to end through the real nginx and the real local configuration
# (compose/local/nginx/nginx.conf.in + the shared compose/nginx/*.conf), started by
# compose/local/stack.sh in a private run directory on free ports. Two small Python HTTP
# servers stand in for oa-edge and oa-query and answer with what they received, so the test
# sees which backend got each request and with which headers. Needs nginx, curl, python3.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d)
passed=0
failed=0

# A private stack run directory: this test never touches the integration stack's processes.
export OA_RUN_DIR=$WORK/run
read -r OA_GATEWAY_PORT OA_EDGE_PORT OA_QUERY_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
export OA_GATEWAY_PORT OA_EDGE_PORT OA_QUERY_PORT
GW=http://127.0.0.1:$OA_GATEWAY_PORT

backend_pids=()
cleanup() {
        local status=$?
        "$REPO/compose/local/stack.sh" down >/dev/null 2>&1 || true
        ((${#backend_pids[@]})) && kill "${backend_pids[@]}" 2>/dev/null
        rm -rf "$WORK"
        exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The stand-in backend: any method; answers JSON describing the request. /status/NNN answers
# NNN with a JSON error body of its own; a path ending in /stream sends two server-sent
# events two seconds apart.
cat >"$WORK/backend.py" <<'EOF'
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME, PORT = sys.argv[1], int(sys.argv[2])

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.endswith("/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in (1, 2):
                event = b"data: %d\n\n" % i
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                if i == 1:
                    time.sleep(2)
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
            self.answer(status, b'{"error":"from_backend","message":"%s"}' % NAME.encode())
            return
        self.answer(200, json.dumps({
            "backend": NAME, "method": self.command, "path": self.path,
            "http": self.request_version, "bytes": len(body),
            "host": self.headers.get("Host"),
            "connection": self.headers.get("Connection"),
            "x_forwarded_for": self.headers.get("X-Forwarded-For"),
            "x_real_ip": self.headers.get("X-Real-IP"),
            "x_forwarded_proto": self.headers.get("X-Forwarded-Proto"),
        }).encode())

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
EOF

declare -A backend_pid=()
start_backend() { # NAME PORT
        python3 "$WORK/backend.py" "$1" "$2" &
        backend_pid[$1]=$!
        backend_pids+=($!)
}

pass() {
        passed=$((passed + 1))
        echo "ok   $1"
}

fail() {
        failed=$((failed + 1))
        echo "FAIL $1"
        echo "     got: $2"
}

# expect DESCRIPTION GOT PATTERN: pass when GOT matches the glob PATTERN.
expect() {
        # shellcheck disable=SC2053 # PATTERN is a glob on purpose
        if [[ $2 == $3 ]]; then pass "$1"; else fail "$1" "$2"; fi
}

# field JSON KEY...: values of a flat JSON object, space-separated ("" when absent or null).
field() {
        python3 -c '
import json, sys
try:
    obj = json.loads(sys.argv[1])
except ValueError:
    sys.exit(0)
print(" ".join("" if obj.get(k) is None else str(obj.get(k)) for k in sys.argv[2:]))' "$@"
}

# expect_route METHOD PATH BACKEND: the request reaches BACKEND with its method and path intact.
expect_route() {
        local method=$1 path=$2 want=$3 out
        out=$(curl -sS -X "$method" -d '{}' "$GW$path" 2>&1 || true)
        expect "$method $path -> $want" "$(field "$out" backend method path)" "$want $method $path"
}

start_backend edge "$OA_EDGE_PORT"
start_backend query "$OA_QUERY_PORT"
"$REPO/compose/local/stack.sh" start gateway >"$WORK/stack.out" 2>&1 || {
        cat "$WORK/stack.out"
        echo "0 passed, 1 failed (the gateway did not start)"
        exit 1
}
# Both stand-ins answer before the checks begin.
for _ in $(seq 50); do
        curl -sf "http://127.0.0.1:$OA_EDGE_PORT/" >/dev/null 2>&1 &&
                curl -sf "http://127.0.0.1:$OA_QUERY_PORT/" >/dev/null 2>&1 && break
        sleep 0.1
done

echo "# routes"
expect_route POST /collect edge
expect_route GET /collect edge
expect_route POST '/collect?site_id=abc&x=1' edge
expect_route POST /v1/projects/p_123/events edge
expect_route GET /v1/projects/p_123/events query
expect_route GET '/v1/projects/p_123/events?limit=10' query
expect_route OPTIONS /v1/projects/p_123/events query
expect_route POST /v1/projects/p_123/events/extra query
expect_route POST /v1/projects//events query
expect_route GET /v1/projects query
expect_route POST /v1/projects query
expect_route GET /v1/projects/p_123/pageviews query
expect_route DELETE /v1/projects/p_123/privacy/user/u1 query
expect_route GET /openapi.json query
expect_route GET / query
expect_route GET /collectx query

echo "# forwarded headers"
out=$(curl -sS -X POST -d '{}' -H 'X-Forwarded-For: 203.0.113.7' "$GW/collect" || true)
expect "X-Forwarded-For appends the client address" "$(field "$out" x_forwarded_for)" "203.0.113.7, 127.0.0.1"
expect "X-Real-IP is the client address" "$(field "$out" x_real_ip)" 127.0.0.1
expect "X-Forwarded-Proto is the scheme" "$(field "$out" x_forwarded_proto)" http
out=$(curl -sS -H 'X-Forwarded-Proto: https' "$GW/v1/projects" || true)
expect "X-Forwarded-Proto of a TLS proxy in front is kept" "$(field "$out" x_forwarded_proto)" https
expect "Host is passed through" "$(field "$out" host)" "127.0.0.1:$OA_GATEWAY_PORT"
expect "HTTP/1.1 with keep-alive to the backend" "$(field "$out" http) connection=$(field "$out" connection)" "HTTP/1.1 connection="

echo "# bodies and errors"
head -c 1500000 /dev/zero | tr '\0' 'a' >"$WORK/1500k"
head -c 2200000 /dev/zero | tr '\0' 'a' >"$WORK/2200k"
out=$(curl -sS -X POST --data-binary @"$WORK/1500k" "$GW/v1/projects/p/events" || true)
expect "a 1.5 MB body reaches oa-edge" "$(field "$out" backend bytes)" "edge 1500000"
out=$(curl -sS -w ' %{http_code} %{content_type}' -X POST --data-binary @"$WORK/2200k" "$GW/v1/projects/p/events" || true)
expect "over 2 MB: 413 payload_too_large in JSON" "$out" '*"error":"payload_too_large"*413 application/json'
out=$(curl -sS -w ' %{http_code}' "$GW/status/503" || true)
expect "a backend's own error passes through untouched" "$out" '{"error":"from_backend","message":"query"} 503'

echo "# server-sent events"
out=$(curl -sSN --max-time 1 "$GW/v1/projects/p/realtime/stream" 2>/dev/null || true)
expect "a /stream event arrives while the stream is still open" "$out" "data: 1"

echo "# a backend down"
kill "${backend_pid[edge]}"
wait "${backend_pid[edge]}" 2>/dev/null || true
out=$(curl -sS -w ' %{http_code} %{content_type}' -X POST -d '{}' "$GW/collect" || true)
expect "oa-edge down: /collect is 502 unavailable in JSON" "$out" '*"error":"unavailable"*502 application/json'
out=$(curl -sS -w ' %{http_code}' -X POST -d '{}' "$GW/v1/projects/p/events" || true)
expect "oa-edge down: POST events is 502 unavailable" "$out" '*"error":"unavailable"*502'
expect_route GET /v1/projects/p/events query

echo "$passed passed, $failed failed"
((failed == 0))
