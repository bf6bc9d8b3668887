#!/usr/bin/env bash
# Writes the benchmark's nginx.conf to stdout.
#
# usage: nginx-conf.sh PREFIX PORT HANG_PORT [TLS_PORT]
#   PREFIX     nginx's working directory (pid file, logs, temp files)
#   PORT       port on 127.0.0.1 to serve on
#   HANG_PORT  port on 127.0.0.1 of a server whose /hang never answers (0: no /hang/ route)
#   TLS_PORT   port on 127.0.0.1 to serve the same routes over HTTPS as well (0 or absent: no
#              HTTPS), with PREFIX/cert.pem and PREFIX/key.pem (a self-signed certificate for
#              127.0.0.1 that the caller creates)
#
# Routes, all on 127.0.0.1 only:
#   /ok/<anything>    200 "ok\n"   (distinct URLs per monitor, no file I/O)
#   /fail/<anything>  503 "fail\n"
#   /hang/<anything>  proxied to HANG_PORT/hang, which reads the request and never answers
#   /page/<anything>  PREFIX/html/page.html (20 KB of HTML), gzip-compressed when asked for
#
# The access log records, per request: $msec (when the log line was written, i.e. the end of the
# request, in seconds with ms resolution), $request_time (seconds since the first request byte),
# so the arrival time is $msec − $request_time; the status; nginx's connection serial number and
# the request's number on that connection (1 = a fresh connection); the URI; the User-Agent.
# Keep-alive is on (65 s), so clients that reuse connections (lychee) can; sitewatch and
# blackbox_exporter open a fresh connection per check anyway.
set -euo pipefail
prefix=$1 port=$2 hang_port=$3 tls_port=${4:-0}
cat <<CONF
worker_processes auto;
worker_rlimit_nofile 65536;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
daemon on;

events {
    worker_connections 16384;
    multi_accept on;
}

http {
    default_type text/plain;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    log_format arrival '\$msec \$request_time \$status \$connection \$connection_requests "\$request_uri" "\$http_user_agent"';
    access_log $prefix/logs/access.log arrival buffer=256k flush=1s;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    server_tokens off;

    server {
        listen 127.0.0.1:$port backlog=4096;
CONF
if [[ $tls_port != 0 ]]; then
cat <<CONF
        listen 127.0.0.1:$tls_port ssl backlog=4096;
        ssl_certificate $prefix/cert.pem;
        ssl_certificate_key $prefix/key.pem;
CONF
fi
cat <<CONF
        location /ok/ { return 200 "ok\n"; }
        location /fail/ { return 503 "fail\n"; }
        location /page/ {
            root $prefix/html;
            default_type text/html;
            gzip on;
            gzip_min_length 0;
            try_files /page.html =404;
        }
CONF
if [[ $hang_port != 0 ]]; then
cat <<CONF
        location /hang/ {
            rewrite ^ /hang break;
            proxy_pass http://127.0.0.1:$hang_port;
            proxy_read_timeout 300s;
        }
CONF
fi
cat <<CONF
        location / { return 404 "not found\n"; }
    }
}
CONF
