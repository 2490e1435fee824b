#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# hostile-attack.py - the attacks of a compromised worker, for
# tests/hostile-worker.sh.  The test's worker wrapper runs it from the
# worker's position (its uid, its cgroup); the test runs the same code as
# root outside every worker group, where each attack must succeed, so a
# broken attack is never mistaken for a protection.
#
#   hostile-attack.py probe INFO OUT   the probes below, then, with SQUAT=1
#                                      in INFO, bind every free port of the
#                                      worker range and hold them
#   hostile-attack.py agent INFO DIR   an escaped process: waits for the
#                                      file AFTER, then acts on a session
#   hostile-attack.py fork INFO OUT    forks until the kernel refuses
#   hostile-attack.py hog INFO OUT     allocates memory without end
#
# INFO holds KEY=VALUE lines (see hostile-worker.sh).  OUT is created
# exclusively (the directory is sticky: a worker writes only its own
# files); each line is "<attack> done|denied <detail>", "done" meaning
# the attack succeeded.  Nothing here runs a shell or reads a password
# other than INFO's REDIS_PASS (given only to the root run).
import errno
import http.client
import os
import socket
import sys
import time

PY = "/usr/bin/python3"


def load(path):
    info = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                info[k] = v
    return info


class Out:
    def __init__(self, path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self.f = os.fdopen(fd, "w", buffering=1)

    def put(self, name, ok, detail=""):
        self.f.write("%s %s %s\n" % (name, "done" if ok else "denied",
                                     str(detail).replace("\n", " ")[:200]))


def err(e):
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def request(method, port, path, token="", body=None):
    """(status, body) of one request to 127.0.0.1:port; raises OSError."""
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=3)
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def try_http(out, name, want, method, port, path, token="", body=None):
    try:
        st, _ = request(method, port, path, token, body)
        out.put(name, st in want, "status %d" % st)
    except Exception as e:
        out.put(name, False, err(e))


def resp(args):
    b = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        b += b"$%d\r\n%s\r\n" % (len(a), a)
    return b


def redis(out, name, family, addr, info):
    """Connect, AUTH if given, write a key and forge a worker record."""
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect(addr)
    except Exception as e:
        out.put(name + "-connect", False, err(e))
        out.put(name + "-write", False, "no connection")
        out.put(name + "-forge", False, "no connection")
        return
    out.put(name + "-connect", True, "connected")
    f = s.makefile("rb")
    pfx = info["PREFIX"]
    if info.get("REDIS_PASS"):
        s.sendall(resp(["AUTH", info["REDIS_PASS"]]))
        f.readline()
    for what, cmd in (("write", ["SET", pfx + ":hostile", "x"]),
                      ("forge", ["HSET", pfx + ":worker:hostile-forged",
                                 "state", "dead", "pid", "1"])):
        try:
            s.sendall(resp(cmd))
            line = f.readline().decode(errors="replace").strip()
            out.put(name + "-" + what, line == "+OK" or line.startswith(":"),
                    line)
        except Exception as e:
            out.put(name + "-" + what, False, err(e))
    s.close()


def first_mapping(pid):
    with open("/proc/%s/maps" % pid) as f:
        for line in f:
            rng, perms = line.split()[:2]
            if perms.startswith("r"):
                return int(rng.split("-")[0], 16)
    return 0


def probe_proc(out, pid):
    try:
        with open("/proc/%s/mem" % pid, "rb", buffering=0) as m:
            try:
                m.seek(first_mapping(pid))
                n = len(m.read(64))
            except Exception as e:
                n = "opened, read " + err(e)
            out.put("mem-read", isinstance(n, int) and n > 0, n)
    except Exception as e:
        out.put("mem-read", False, err(e))
    try:
        os.close(os.open("/proc/%s/mem" % pid, os.O_RDWR))
        out.put("mem-open-rw", True, "opened")
    except Exception as e:
        out.put("mem-open-rw", False, err(e))
    try:
        with open("/proc/%s/environ" % pid, "rb") as e_:
            out.put("environ", True, "%d bytes" % len(e_.read()))
    except Exception as e:
        out.put("environ", False, err(e))
    try:
        os.kill(int(pid), 0)  # the permission check of every signal
        out.put("signal", True, "kill 0 allowed")
    except Exception as e:
        out.put("signal", False, err(e))


def escape(info, outdir):
    """Two escapes: setsid env -i, and a double fork into a new session
    with an empty environment.  Each runs agent()."""
    me = os.path.abspath(__file__)
    args = [me, "agent", info["_path"], outdir]
    os.spawnv(os.P_NOWAIT, "/usr/bin/setsid",
              ["setsid", "/usr/bin/env", "-i", PY] + args)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.execve(PY, [PY] + args, {})
        os._exit(0)
    os.waitpid(pid, 0)


def agent(info, outdir):
    out = Out(os.path.join(outdir, "agent.%d" % os.getpid()))
    # Python adds LC_CTYPE to an empty environment (PEP 538).
    out.put("agent-alive", True, "pid %d sid %d env %s" %
            (os.getpid(), os.getsid(0), ",".join(sorted(os.environ)) or "-"))
    while not os.path.exists(info["AFTER"]):
        time.sleep(0.1)
    # The worker is gone: act on a session it knew of.
    port, sid = info["AGENT_PORT"], info["AGENT_SID"]
    try_http(out, "agent-acted-get", (200,), "GET", port, "/sessions/" + sid)
    try_http(out, "agent-acted-delete", (200, 204), "DELETE", port,
             "/sessions/" + sid)
    out.put("agent-acted", True, "pid %d after the end" % os.getpid())


def squat(out, info):
    socks, lo, hi = [], int(info["PORT_LO"]), int(info["PORT_HI"])
    for p in range(lo, hi + 1):
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", p))
            s.listen(1)
            socks.append(s)
        except OSError:
            s.close()
    out.put("squat", len(socks) > 0, "bound %d of %d" % (len(socks),
                                                           hi - lo + 1))
    return socks


def probe(info, outpath):
    out = Out(outpath)
    tok = info.get("TOKEN", "")
    if info.get("ESCAPE") == "1":
        escape(info, os.path.dirname(outpath))
    for v in info["VICTIMS"].split():
        pid, port, sid = v.split(":")
        probe_proc(out, pid)
        try_http(out, "worker-status", (200,), "GET", port, "/status")
        try_http(out, "worker-get", (200,), "GET", port, "/sessions/" + sid)
        try_http(out, "api-get", (200,), "GET", info["HTTP_PORT"],
                 "/sessions/" + sid)
    dport, dsid = info["DEL_PORT"], info["DEL_SID"]
    try_http(out, "worker-delete", (200, 204), "DELETE", dport,
             "/sessions/" + dsid)
    try_http(out, "api-delete", (204,), "DELETE", info["HTTP_PORT"],
             "/sessions/" + info["API_DEL_SID"])
    for name, path in (("op-workers", "/workers"), ("op-list", "/sessions"),
                       ("op-metrics", "/metrics")):
        try_http(out, name, (200,), "GET", info["HTTP_PORT"], path, tok)
    try_http(out, "api-create", (200, 201), "POST", info["HTTP_PORT"],
             "/sessions", body='{"hostile": 1}')
    redis(out, "redis-tcp", socket.AF_INET, ("127.0.0.1",
                                             int(info["REDIS_PORT"])), info)
    if info.get("REDIS_SOCK"):
        redis(out, "redis-unix", socket.AF_UNIX, info["REDIS_SOCK"], info)
    socks = squat(out, info) if info.get("SQUAT") == "1" else []
    out.put("finished", True)
    while socks:
        time.sleep(60)


def fork(info, outpath):
    out = Out(outpath)
    ok = failed = 0
    for _ in range(int(info.get("FORKS", "300"))):
        try:
            if os.fork() == 0:
                time.sleep(1000)
                os._exit(0)
            ok += 1
        except OSError:
            failed += 1
    out.put("fork", failed == 0, "forked %d refused %d" % (ok, failed))
    out.put("finished", True)
    time.sleep(1000)


def hog(info, outpath):
    out = Out(outpath)
    chunks = []
    while True:
        chunks.append(b"\1" * (4 << 20))  # written, so it is resident
        out.put("hog", True, "mb %d" % (4 * len(chunks)))


def main():
    cmd, path, out = sys.argv[1:4]
    info = load(path)
    info["_path"] = path
    go = info.get("GO_" + cmd.upper())
    while go and not os.path.exists(go):
        time.sleep(0.1)
    {"probe": probe, "agent": agent, "fork": fork, "hog": hog}[cmd](info, out)


if __name__ == "__main__":
    main()
