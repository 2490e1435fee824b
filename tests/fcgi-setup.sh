#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# fcgi-setup.sh - a steel-fcgi whose threads cannot set up their handlers
# (libcurl refuses every handle to them) exits 1 with a log line that says
# so, instead of running on with no thread to serve: lighttpd then sees a
# backend that is gone, not one that takes connections and never answers.
# The failure is made with a preloaded shim (built here) that makes
# curl_easy_init return NULL in every thread but the main one; steel-fcgi
# gets a listening unix socket on fd 0, as from lighttpd.

. "$(dirname "$0")/lib.sh"
lib_init

CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || { echo "SKIP: no C compiler ($CC)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }

cat >"$T/nocurl.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>
/* libcurl's curl_easy_init, failing in every thread but the main one. */
void *curl_easy_init(void)
{
    void *(*real)(void) = (void *(*)(void))dlsym(RTLD_NEXT, "curl_easy_init");

    if (syscall(SYS_gettid) != getpid())
        return NULL;
    return real();
}
C
check "the shim builds" "$CC" -shared -fPIC -o "$T/nocurl.so" "$T/nocurl.c" -ldl

cat >"$T/f.conf" <<CONF
redis = $T/no-redis.sock
fcgi_threads = 2
fcgi_create_threads = 2
CONF

# Runs steel-fcgi on a listening unix socket for at most $1 s, with the
# shim when $2 is 1; prints its exit status ("running" if it did not exit).
run_fcgi() {
    python3 - "$1" "$2" "$top_builddir/fcgi/steel-fcgi" "$T" <<'PY'
import os, socket, subprocess, sys
limit, shim, prog, tmp = float(sys.argv[1]), sys.argv[2] == "1", sys.argv[3], sys.argv[4]
path = os.path.join(tmp, "fcgi.sock")
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
env = dict(os.environ, STEEL_CONF=os.path.join(tmp, "f.conf"))
if shim:
    env["LD_PRELOAD"] = os.path.join(tmp, "nocurl.so")
with open(os.path.join(tmp, "fcgi-%d.log" % shim), "w") as log:
    p = subprocess.Popen([prog], stdin=s.fileno(), stdout=log, stderr=log, env=env)
    try:
        print(p.wait(timeout=limit))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        print("running")
PY
}

check_eq "with its threads' libcurl refused, steel-fcgi exits 1" 1 "$(run_fcgi 12 1)"
check "the log says no accept thread could set up" \
    grep -q "no accept thread could set up its handler (2 failed): exiting" "$T/fcgi-1.log"
check "the log names each failed thread" \
    grep -q "accept thread: cannot set up its handler" "$T/fcgi-1.log"
check_eq "without the shim it keeps serving" running "$(run_fcgi 2 0)"
check "and says so" grep -q "serving with 2 accept and 2 create threads" "$T/fcgi-0.log"

lib_finish
