#!/usr/bin/env bash
# How deep one check goes on a worker's stack, for HTTP (a short answer and a gzip-compressed page)
# and HTTPS URLs served on 127.0.0.1
# (a worker's stack stays resident as deep as any of its checks reached: part of what each worker
# costs, BENCHMARKS.md "Memory per check in flight"). Run by hand, not part of scripts/bench.sh.
#
#   scripts/bench/stack.sh            # the depth of each check, in bytes below its caller
#   scripts/bench/stack.sh --frames   # and, through gdb, the frames of each deepest call chain
#
# Needs python3 and openssl (and gdb for --frames). Builds scripts/bench/stack (a small program
# over the sitewatch library) into target/stack-depth; everything stays on 127.0.0.1 and stops
# within two minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/target/bench/stack
mkdir -p "$OUT"
FRAMES=0
[[ ${1:-} == --frames ]] && FRAMES=1

# sitewatch's own lock file, so that the program measures the versions sitewatch is built with.
cp "$ROOT/Cargo.lock" "$ROOT/scripts/bench/stack/Cargo.lock"
CARGO_TARGET_DIR=$ROOT/target/stack-depth cargo build --release --quiet \
    --manifest-path "$ROOT/scripts/bench/stack/Cargo.toml"
BIN=$ROOT/target/stack-depth/release/stack-depth

# A throw-away CA and a certificate for 127.0.0.1 signed by it (the check verifies it for real).
if [[ ! -s $OUT/cert.pem ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj /CN=sitewatch-stack-ca -keyout "$OUT/ca.key" -out "$OUT/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
        -keyout "$OUT/key.pem" -out "$OUT/cert.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$OUT/ext.cnf"
    openssl x509 -req -in "$OUT/cert.csr" -CA "$OUT/ca.pem" -CAkey "$OUT/ca.key" \
        -CAcreateserial -days 30 -extfile "$OUT/ext.cnf" -out "$OUT/cert.pem" 2>/dev/null
fi

# One server answering `200 ok` over HTTP and one over HTTPS, on ports the OS picks.
rm -f "$OUT/ports"
timeout 120 python3 - "$OUT" <<'EOF' &
import gzip, http.server, ssl, sys, threading
out = sys.argv[1]
PAGE = gzip.compress(b"<p>ok</p>\n" * 2000)
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        # /gzip: a compressed page, as most real sites send one.
        body = PAGE if self.path == "/gzip" else b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.path == "/gzip":
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
tls = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(f"{out}/cert.pem", f"{out}/key.pem")
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
for server in (plain, tls):
    threading.Thread(target=server.serve_forever, daemon=True).start()
with open(f"{out}/ports.tmp", "w") as f:
    f.write(f"{plain.server_address[1]} {tls.server_address[1]}\n")
import os
os.rename(f"{out}/ports.tmp", f"{out}/ports")
threading.Event().wait()
EOF
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [[ -s $OUT/ports ]] && break; sleep 0.05; done
read -r HTTP_PORT HTTPS_PORT <"$OUT/ports"

frames() { # frames URL ENTRY: the deepest call chain, innermost first: frame size, running total
    local url=$1 entry=$2 deepest
    deepest=$(gdb -q -batch -ex run --args "$BIN" "$url" "$entry" 2>/dev/null |
        sed -n 's/.*deepest byte at \(0x[0-9a-f]*\).*/\1/p')
    cat >"$OUT/gdb.cmds" <<EOF
set pagination off
break stack_depth_painted
run
set language c
watch *(char*)$deepest
delete 1
continue
python
frame, total = gdb.newest_frame(), 0
while frame is not None and frame.older() is not None:
    size = int(frame.older().read_register('rsp')) - int(frame.read_register('rsp'))
    total += size
    if size:
        print("%7d %7d  %s" % (size, total, (frame.name() or '?')[:110]))
    frame = frame.older()
end
kill
EOF
    echo "  frame B   total B  function (inlined callers add nothing)"
    timeout 60 gdb -q -batch -x "$OUT/gdb.cmds" --args "$BIN" "$url" "$entry" 2>/dev/null |
        grep -E '^ +[0-9]+ +[0-9]+  '
}

for case in "http://127.0.0.1:$HTTP_PORT/ {}" "http://127.0.0.1:$HTTP_PORT/gzip {}" \
    "https://127.0.0.1:$HTTPS_PORT/ {\"ca_file\":\"$OUT/ca.pem\"}"; do
    url=${case%% *} entry=${case#* }
    "$BIN" "$url" "$entry"
    ((FRAMES)) && frames "$url" "$entry"
done
