#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bad-input.sh - hostile input through lighttpd against a live stack.
# Every answer must be the documented 4xx with Content-Type
# application/json and a body that json-c (strict, UTF-8 checked) reads as
# {"error": string, "message": string}; and nothing may change: a session
# made at the start still answers 200 at the end, no new session exists,
# the same worker processes are registered, none was marked dead and no
# sanitizer report is in any log.
#
# Bodies: empty, null, deep nesting, lone surrogates, 1e999, 400 digits,
# duplicate keys, control bytes, bad UTF-8, chunked; Content-Length that is
# negative, not a number, huge, repeated or missing; ids with ".", "..",
# encoded slashes and NUL; absurd offset and limit; long headers; long
# URIs; unknown methods; HEAD.  What lighttpd answers itself (it parses
# the request before steel-fcgi sees it) is JSON through the error
# documents of etc/lighttpd/errors/, which the stack's lighttpd.conf
# applies to every path.  Requests curl will not send (a bad
# Content-Length, raw control bytes in the path) go through bash's
# /dev/tcp as HTTP/1.0.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

JSON_CHECK=$top_builddir/tests/json-check
[ -x "$JSON_CHECK" ] || { echo "$JSON_CHECK is missing (make check builds it)"; exit 1; }

HTTP_PORT=$(free_port)
# Two idle workers and room for one more: S takes one, a create with a
# long header another, and the spawner never needs to start a worker.
cat >"$T/bad.conf" <<CONF
session_ttl = 120
pool_idle_target = 2
pool_max_workers = 3
create_wait = 2
reap_interval = 1
fcgi_threads = 4
max_body = 65536
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
STEEL_CONF=$T/bad.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)
P=$STACK_PREFIX
REDIS_PORT=$STACK_REDIS_PORT

sid_of() { sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }
workers_state() { # "id:pid:state" of every registered worker, sorted
    local id
    for id in $(rcli_raw SMEMBERS "$P:workers" | sort); do
        echo "$id:$(rcli_raw HGET "$P:worker:$id" pid):$(rcli_raw HGET "$P:worker:$id" state)"
    done
}
idle_is() { test "$(rcli LLEN "$P:idle")" = "$1"; }
ADMIN=(-H "Authorization: Bearer $STACK_ADMIN_TOKEN")
starts() { curl -s -m 5 "${ADMIN[@]}" "$U/metrics" | sed -n 's/^steel_worker_starts_total //p'; }

# ---- a live session and the pool before the test -----------------------------
code=$(curl -s -m 15 -o "$T/s" -w '%{http_code}' -X POST -d '{"keep":1}' "$U/sessions")
S=$(sid_of "$T/s")
check "a session made at the start ($code)" test "${code:0:1}" = 2 -a -n "$S"
check_eventually "the pool is back to two idle workers" 15 idle_is 2
BEFORE=$(workers_state)
STARTS=$(starts)
check "three workers registered, none dead" \
    test "$(echo "$BEFORE" | grep -c ':busy$\|:idle$')" = 3

# ---- the answer checks -----------------------------------------------------

# judge DESC WANT_STATUS WANT_CODES STATUS HEADERS BODY - the one check of
# an error answer: status, JSON content type, error shape and code.
judge() {
    local desc=$1 want=$2 codes=$3 got=$4 h=$5 b=$6 err
    if [ "$got" != "$want" ]; then
        not_ok "$desc: want $want, got $got ($(head -c 200 "$b"))"
        return
    fi
    if ! grep -qi '^Content-Type: application/json' "$h"; then
        not_ok "$desc: $got without Content-Type application/json"
        return
    fi
    if ! err=$("$JSON_CHECK" "$b" 2>"$T/jc.err"); then
        not_ok "$desc: $got, body is not the error shape: $(cat "$T/jc.err")"
        return
    fi
    if ! [[ $err =~ ^($codes)$ ]]; then
        not_ok "$desc: $got with error \"$err\", want $codes"
        return
    fi
    ok "$desc -> $got $err"
}

# expect DESC STATUS CODES CURL_ARGS... - a request by curl.
expect() {
    local desc=$1 want=$2 codes=$3 got
    shift 3
    got=$(curl -s -m 10 -o "$T/b" -D "$T/h" -w '%{http_code}' "$@")
    judge "$desc" "$want" "$codes" "$got" "$T/h" "$T/b"
}

# expect_body DESC STATUS CODES FILE [CURL_ARGS...] - POST /sessions with
# the bytes of FILE as its body.
expect_body() {
    local desc=$1 want=$2 codes=$3 file=$4
    shift 4
    expect "$desc" "$want" "$codes" -X POST -H 'Content-Type: application/json' \
        --data-binary @"$file" "$@" "$U/sessions"
}

# body NAME PRINTF_FORMAT [ARGS] - writes a body file, prints its path.
body() {
    local name=$1
    shift
    # shellcheck disable=SC2059
    printf "$@" >"$T/body.$name"
    echo "$T/body.$name"
}

# expect_raw DESC STATUS CODES PRINTF_FORMAT - bytes straight to
# lighttpd (HTTP/1.0: the answer ends when the connection closes).
expect_raw() {
    local desc=$1 want=$2 codes=$3 got
    # shellcheck disable=SC2016
    timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "$2" >&3; cat <&3' _ "$HTTP_PORT" "$4" >"$T/raw" 2>/dev/null
    tr -d '\r' <"$T/raw" | sed '/^$/q' >"$T/h"
    sed '1,/^\r\{0,1\}$/d' "$T/raw" >"$T/b"
    got=$(sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' "$T/h")
    judge "$desc" "$want" "$codes" "${got:-none}" "$T/h" "$T/b"
}

# ---- bodies ----------------------------------------------------------------
deep() { # N OPEN CLOSE - N levels of OPEN, then N of CLOSE
    { head -c "$1" /dev/zero | sed "s/\x0/$2/g"
      head -c "$1" /dev/zero | sed "s/\x0/$3/g"; } >"$T/body.deep"
    echo "$T/body.deep"
}
n400=$(printf '9%.0s' $(seq 1 400))
expect_body "empty body" 400 invalid_json "$(body empty '')"
expect_body "white space only" 400 invalid_json "$(body ws ' \r\n\t ')"
expect_body "null" 400 not_an_object "$(body null 'null')"
expect_body "an array" 400 not_an_object "$(body arr '[1,2]')"
expect_body "a string" 400 not_an_object "$(body str '"x"')"
expect_body "10000 levels of [" 400 invalid_json "$(deep 10000 '[' '')"
expect_body "10000 levels of [ ] balanced" 400 invalid_json "$(deep 10000 '[' ']')"
expect_body "10000 levels of {\"a\":" 400 invalid_json "$(deep 10000 '{"a":' '}')"
expect_body "a lone high surrogate \\ud800" 400 invalid_json "$(body sur1 '{"a":"\\ud800"}')"
expect_body "a lone low surrogate \\udc00" 400 invalid_json "$(body sur2 '{"a":"\\udc00"}')"
expect_body "surrogates reversed" 400 invalid_json "$(body sur3 '{"a":"\\udc00\\ud800"}')"
expect_body "1e999" 400 invalid_json "$(body big1 '{"a":1e999}')"
expect_body "-1e999" 400 invalid_json "$(body big2 '{"a":-1e999}')"
expect_body "a 400-digit number" 400 invalid_json "$(body big3 '{"a":%s}' "$n400")"
expect_body "a 400-digit fraction" 400 invalid_json "$(body big4 '{"a":0.%s}' "$n400")"
expect_body "duplicate keys" 400 invalid_json "$(body dup1 '{"a":1,"a":2}')"
expect_body "duplicate keys, one escaped" 400 invalid_json "$(body dup2 '{"a":1,"\\u0061":2}')"
expect_body "duplicate keys, nested" 400 invalid_json "$(body dup3 '{"x":{"b":[],"b":{}}}')"
expect_body "a raw control byte in a string" 400 invalid_json "$(body ctl1 '{"a":"x\001y"}')"
expect_body "a raw NUL in a string" 400 invalid_json "$(body ctl2 '{"a":"x\000y"}')"
expect_body "a NUL after the object" 400 invalid_json "$(body ctl3 '{}\000')"
expect_body "an escaped NUL" 400 invalid_json "$(body ctl4 '{"a":"\\u0000"}')"
expect_body "DEL and ESC outside strings" 400 invalid_json "$(body ctl5 '{\033"a":1\177}')"
expect_body "bad UTF-8: a stray 0xff" 400 invalid_json "$(body u1 '{"a":"\377"}')"
expect_body "bad UTF-8: an overlong /" 400 invalid_json "$(body u2 '{"a":"\300\257"}')"
expect_body "bad UTF-8: an encoded surrogate" 400 invalid_json "$(body u3 '{"a":"\355\240\200"}')"
expect_body "bad UTF-8: cut short" 400 invalid_json "$(body u4 '{"a":"\342\202"}')"
expect_body "bad UTF-8 in a key" 400 invalid_json "$(body u5 '{"\376":1}')"
expect_body "a byte-order mark" 400 invalid_json "$(body bom '\357\273\277{}')"
expect_body "two objects" 400 invalid_json "$(body two '{}{}')"
expect_body "trailing garbage" 400 invalid_json "$(body junk '{} x')"
expect_body "single quotes" 400 invalid_json "$(body sq "{'a':1}")"
expect_body "a trailing comma" 400 invalid_json "$(body comma '{"a":1,}')"
expect_body "NaN" 400 invalid_json "$(body nan '{"a":NaN}')"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/body.big"
expect_body "a body over max_body" 413 body_too_large "$T/body.big"
head -c $((1100 * 1024)) /dev/zero | tr '\0' ' ' >"$T/body.huge"
expect_body "a body over lighttpd's 1 MiB" 413 body_too_large "$T/body.huge"

# ---- chunked bodies ----------------------------------------------------------
expect_body "chunked: invalid JSON" 400 invalid_json "$(body ch1 '{"a":')" \
    -H 'Transfer-Encoding: chunked'
expect_body "chunked: a lone surrogate" 400 invalid_json "$T/body.sur1" \
    -H 'Transfer-Encoding: chunked'
expect_body "chunked: over max_body" 413 body_too_large "$T/body.big" \
    -H 'Transfer-Encoding: chunked'
expect_body "chunked: over 1 MiB" 413 body_too_large "$T/body.huge" \
    -H 'Transfer-Encoding: chunked'
expect_raw "chunked: a chunk size that is not hex" 400 bad_request \
    'POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'
expect_raw "chunked: a chunk longer than its size" 400 bad_request \
    'POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n'
expect_raw "chunked and Content-Length together" 400 bad_request \
    'POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}'
expect_raw "an unknown transfer coding" 501 not_implemented \
    'POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: gzip\r\n\r\n{}'

# ---- Content-Length ----------------------------------------------------------
expect_raw "Content-Length -1" 400 bad_request \
    'POST /sessions HTTP/1.0\r\nContent-Length: -1\r\n\r\n{}'
expect_raw "Content-Length abc" 400 bad_request \
    'POST /sessions HTTP/1.0\r\nContent-Length: abc\r\n\r\n{}'
expect_raw "Content-Length 0x10" 400 bad_request \
    'POST /sessions HTTP/1.0\r\nContent-Length: 0x10\r\n\r\n{}'
expect_raw "Content-Length of 20 digits" 400 bad_request \
    'POST /sessions HTTP/1.0\r\nContent-Length: 99999999999999999999\r\n\r\n{}'
expect_raw "Content-Length 5000000" 413 body_too_large \
    'POST /sessions HTTP/1.0\r\nContent-Length: 5000000\r\n\r\n{}'
expect_raw "two different Content-Lengths" 400 bad_request \
    'POST /sessions HTTP/1.0\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'
expect_raw "a POST without Content-Length" 411 length_required \
    'POST /sessions HTTP/1.0\r\n\r\n{}'
expect_raw "Content-Length 0" 400 invalid_json \
    'POST /sessions HTTP/1.0\r\nContent-Length: 0\r\n\r\n'
# A Content-Length beyond the bytes sent: lighttpd waits for the rest
# (server.max-read-idle); the client gives up, and nothing may come of it.
timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "POST /sessions HTTP/1.0\r\nContent-Length: 100\r\n\r\n{}" >&3; cat <&3' \
    _ "$HTTP_PORT" >"$T/raw" 2>/dev/null
check "a body shorter than its Content-Length gets no answer while the client waits" \
    test ! -s "$T/raw"

# ---- session ids ---------------------------------------------------------------
for m in GET DELETE; do
    for id in . .. %2e %2e%2e ..%2F..%2Fetc a%2Fb a%2fb %2F a%5Cb %00 a%00b \
        a%20b a%C3%A9 a+b "a'b" a%22b a%7Bb \
        "$(printf 'a%.0s' $(seq 1 129))" "$(printf 'x%.0s' $(seq 1 3000))"; do
        case $id in
        *%00*) codes='invalid_session_id|bad_request' ;;
        *) codes=invalid_session_id ;;
        esac
        expect "$m /sessions/${id:0:24}$([ ${#id} -gt 24 ] && echo "... (${#id})")" \
            400 "$codes" -X "$m" --path-as-is "$U/sessions/$id"
    done
done
expect_raw "a raw control byte in the path" 400 bad_request \
    'GET /sessions/a\001b HTTP/1.0\r\n\r\n'
expect_raw "a raw NUL in the path" 400 bad_request \
    'GET /sessions/a\000b HTTP/1.0\r\n\r\n'
expect_raw "a raw space in the path" 400 'bad_request|invalid_session_id' \
    'GET /sessions/a b HTTP/1.0\r\n\r\n'
expect "an unknown well-formed id" 404 session_not_found "$U/sessions/no-such-id"
expect "DELETE of an unknown id" 404 session_not_found -X DELETE "$U/sessions/no-such-id"
expect "S with a trailing slash" 404 not_found "$U/sessions/$S/"
expect "a segment below S" 404 not_found "$U/sessions/$S/x"
expect "S's id in another case" 404 session_not_found "$U/sessions/${S^^}"

# ---- offset and limit ------------------------------------------------------------
for q in offset=-1 limit=-1 limit=0 offset=abc limit=abc offset= limit= \
    offset=1e3 limit=0x10 offset=99999999999999999999 \
    limit=99999999999999999999 limit=1001 offset=1000000001 \
    offset=-9223372036854775808 limit=9223372036854775808 \
    'limit=1&limit=2' 'offset=0&offset=0' limit=%31 offset=1.5 \
    "limit=$(printf '1%.0s' $(seq 1 40))"; do
    expect "GET /sessions?$q" 400 bad_request "${ADMIN[@]}" "$U/sessions?$q"
done
code=$(curl -s -m 10 -o "$T/l" -w '%{http_code}' "${ADMIN[@]}" "$U/sessions?offset=1000000000&limit=1000")
check "the largest offset and limit are an empty page ($code)" \
    bash -c "test $code = 200 && '$JSON_CHECK' -a '$T/l' && grep -q '\"sessions\":\[\]' '$T/l'"

# ---- headers -----------------------------------------------------------------------
long=$(printf 'x%.0s' $(seq 1 300))
# create_ok DESC CURL_ARGS... - a create that must work, then its DELETE
# and the worker back in the idle list.
create_ok() {
    local desc=$1 code id
    shift
    code=$(curl -s -m 15 -o "$T/c" -w '%{http_code}' -X POST -d '{"h":1}' "$@" "$U/sessions")
    id=$(sid_of "$T/c")
    check "$desc: the create works ($code)" test "${code:0:1}" = 2 -a -n "$id"
    [ -n "$id" ] && curl -s -m 10 -o /dev/null -X DELETE "$U/sessions/$id"
    check_eventually "  its worker is idle again" 10 idle_is 2
}
create_ok "a 300-byte Authorization" -H "Authorization: Bearer $long"
create_ok "a 300-byte Authorization of another scheme" -H "Authorization: Basic $long"
create_ok "a 300-byte Content-Type" -H "Content-Type: application/json; x=$long"
create_ok "a 6000-byte unrelated header" -H "X-Junk: $(printf 'j%.0s' $(seq 1 6000))"
expect_body "a 300-byte Idempotency-Key" 400 bad_request "$(body idem '{}')" \
    -H "Idempotency-Key: $long"
expect_body "an Idempotency-Key with a control byte" 400 bad_request "$T/body.idem" \
    -H "$(printf 'Idempotency-Key: a\001b')"
expect_body "a 10000-byte header" 431 headers_too_large "$T/body.idem" \
    -H "X-Junk: $(printf 'j%.0s' $(seq 1 10000))"
expect_raw "a header line without a colon" 400 bad_request \
    'GET /health HTTP/1.0\r\nno colon here\r\n\r\n'
expect_raw "a header with a raw control byte" 400 bad_request \
    'GET /health HTTP/1.0\r\nX-A: a\001b\r\n\r\n'

# ---- URIs and methods ------------------------------------------------------------------
expect "a 5000-byte URI" 414 uri_too_long "$U/sessions/$(printf 'a%.0s' $(seq 1 5000))"
expect "a 5000-byte query string" 414 uri_too_long "$U/sessions?x=$(printf 'a%.0s' $(seq 1 5000))"
expect "a 9000-byte URI (lighttpd's header limit)" 431 headers_too_large \
    "$U/sessions/$(printf 'a%.0s' $(seq 1 9000))"
expect "an unknown method" 501 not_implemented -X FROB "$U/sessions"
expect "an unknown method on S" 501 not_implemented -X FROB "$U/sessions/$S"
expect "PATCH on S" 405 method_not_allowed -X PATCH "$U/sessions/$S"
expect "PUT on S" 405 method_not_allowed -X PUT -d '{}' "$U/sessions/$S"
expect "POST on S" 405 method_not_allowed -X POST -d '{}' "$U/sessions/$S"
expect "OPTIONS on /sessions" 405 method_not_allowed -X OPTIONS "$U/sessions"
expect "TRACE on /sessions" 405 method_not_allowed -X TRACE "$U/sessions"
expect "DELETE on /sessions" 405 method_not_allowed -X DELETE "$U/sessions"
expect_raw "a lower-case method" 501 not_implemented 'get /health HTTP/1.0\r\n\r\n'
expect_raw "HTTP/2.0 in the request line" 505 http_version_not_supported \
    'GET /health HTTP/2.0\r\n\r\n'
expect_raw "no HTTP version" 400 bad_request 'GET /health\r\n\r\n'

# HEAD on S answers like GET and changes nothing: S's TTL keeps running.
ttl0=$(rcli PTTL "$P:session:$S")
sleep 1.1
code=$(curl -s -m 10 -I -o "$T/hd" -w '%{http_code}' "$U/sessions/$S")
ttl1=$(rcli PTTL "$P:session:$S")
check_eq "HEAD on S" 200 "$code"
check "  does not refresh S's TTL ($ttl0 ms, then $ttl1 ms)" \
    test "${ttl1:-0}" -gt 0 -a "${ttl1:-0}" -lt $((ttl0 - 900))
code=$(curl -s -m 10 -I -o "$T/hd" -w '%{http_code}' "$U/sessions/no-such-id")
check_eq "HEAD on an unknown id" 404 "$code"

# ---- nothing changed -------------------------------------------------------------------
code=$(curl -s -m 10 -o "$T/g" -w '%{http_code}' "$U/sessions/$S")
check_eq "S still answers" 200 "$code"
check_eq "  with its own id" "$S" "$(sid_of "$T/g")"
check_eq "S is the only session" 1 "$(rcli ZCARD "$P:sessions")"
check_eventually "the pool is two idle workers" 10 idle_is 2
after=$(workers_state)
check "the same workers, same processes, same states" test "$BEFORE" = "$after"
[ "$BEFORE" = "$after" ] && : || printf 'before:\n%s\nafter:\n%s\n' "$BEFORE" "$after"
check_eq "no worker started since" "$STARTS" "$(starts)"
check "no worker marked dead in steel-fcgi's log" \
    bash -c "! grep -q 'marked dead' '$STACK_RUN/steel-fcgi.log'"
check "no sanitizer report in the stack's logs" \
    bash -c "! grep -l -E 'runtime error:|AddressSanitizer|LeakSanitizer' '$STACK_RUN'/*.log"

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
