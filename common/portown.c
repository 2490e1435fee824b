/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * portown.c - who listens on a TCP port (portown.h).
 *
 * Invariants: the answer is 1 only when every listening socket of the
 * port (IPv4 and IPv6, any address) was found among the fds of the
 * process tree asked about or, where those fds cannot be read, belongs
 * to the uid of the tree's first process; anything unseen counts
 * against it.  The listeners come from sock_diag (NETLINK_SOCK_DIAG),
 * which walks only the kernel's listening hash and filters by port, so
 * the cost of a check does not grow with the host's other sockets;
 * where netlink cannot answer, from /proc/net/tcp*, per family.  Every
 * read is bounded (PORTOWN_MAX_SOCKETS, PORTOWN_MAX_PROCS, the buffer
 * sizes below, DIAG_CALLS receives of at most DIAG_WAIT_MS each);
 * /proc/net/tcp* is read in pieces, whatever its size.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portown.h"
#include "util.h"

#define NET_CHUNK    65536             /* bytes of /proc/net/tcp* at once */
#define CHILDREN_MAX 65536             /* bytes of one children list */
#define TCP_LISTEN   10                /* st of a listening socket */
/* A dump comes in datagrams the kernel sizes to the reader's buffer, at
 * most 32 KiB: DIAG_BUF is never truncated.  With the kernel filtering by
 * port, the first holds the whole answer; a kernel that sent every
 * listener would take DIAG_CALLS of them (some 18000 listeners) before
 * we turn to /proc. */
#define DIAG_BUF     32768             /* bytes of one netlink receive */
#define DIAG_CALLS   64                /* send and receive calls of a dump */
#define DIAG_WAIT_MS 1000              /* ms one receive may wait */

int portown_parse(const char *buf, size_t len, int port,
                  struct portown_sock *socks, size_t max, size_t *n)
{
    size_t i = 0;

    while (i < len) {
        const char *line = buf + i;
        const char *end = memchr(line, '\n', len - i);
        size_t llen = end ? (size_t)(end - line) : len - i;
        char tmp[512], *f[10], *save = NULL, *p;
        unsigned long lport, st, inode, uid;
        int k = 0;

        i += llen + 1;
        if (llen == 0 || llen >= sizeof(tmp))
            continue;
        memcpy(tmp, line, llen);
        tmp[llen] = '\0';
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        for (p = strtok_r(tmp, " ", &save); p != NULL && k < 10;
             p = strtok_r(NULL, " ", &save))
            f[k++] = p;
        if (k < 10 || (p = strrchr(f[1], ':')) == NULL)
            continue;
        errno = 0;
        lport = strtoul(p + 1, &p, 16);
        if (errno != 0 || *p != '\0')
            continue;
        st = strtoul(f[3], &p, 16);
        if (*p != '\0' || st != TCP_LISTEN || lport != (unsigned long)port)
            continue;
        inode = strtoul(f[9], &p, 10);
        if (*p != '\0' || inode == 0)
            continue;
        uid = strtoul(f[7], &p, 10);
        if (*p != '\0')
            continue;
        if (*n >= max)
            return -1;
        socks[*n].inode = inode;
        socks[*n].uid = uid;
        (*n)++;
    }
    return 0;
}

/* portown_parse over the file at path (a /proc/net/tcp*), read in pieces
 * of NET_CHUNK bytes cut at line ends: a node with tens of thousands of
 * sockets (TIME_WAIT included) has a file of megabytes, and its size is
 * no bound of ours.  Returns what portown_parse returns, or -2 when the
 * file cannot be opened or read (errno set). */
static int scan_net(const char *path, int port, struct portown_sock *socks,
                    size_t max, size_t *n)
{
    char *buf = malloc(NET_CHUNK);
    size_t have = 0;
    int fd, rc = 0;

    if (buf == NULL)
        return -2;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        free(buf);
        return -2;
    }
    for (;;) {
        ssize_t r = read(fd, buf + have, NET_CHUNK - have);
        char *last;
        size_t used;

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -2;
            break;
        }
        have += (size_t)r;
        if (r == 0) { /* the end: a last line without its newline */
            rc = portown_parse(buf, have, port, socks, max, n);
            break;
        }
        last = memrchr(buf, '\n', have);
        if (last == NULL) {
            if (have == NET_CHUNK)
                have = 0; /* no line is this long: skipped */
            continue;
        }
        used = (size_t)(last - buf) + 1;
        if (portown_parse(buf, used, port, socks, max, n) < 0) {
            rc = -1;
            break;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    close(fd);
    free(buf);
    return rc;
}

int portown_scan(const char *path, int port, struct portown_sock *socks,
                 size_t max, size_t *n)
{
    return scan_net(path, port, socks, max, n);
}

/* The listeners among the replies of one dump in buf (len bytes, one
 * datagram from the kernel), appended to socks.  Returns 1 at the dump's
 * end, 0 when more is to come, -1 when more than max listeners were
 * found, -2 when the kernel answered with an error (errno its error) or
 * the datagram is malformed (EPROTO). */
static int diag_parse(const char *buf, size_t len, __u32 seq, __u32 portid,
                      int family, int port, struct portown_sock *socks,
                      size_t max, size_t *n)
{
    const struct nlmsghdr *h;
    size_t off;

    for (off = 0; off + NLMSG_HDRLEN <= len; off += NLMSG_ALIGN(h->nlmsg_len)) {
        const struct inet_diag_msg *d;

        h = (const struct nlmsghdr *)(buf + off);
        if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len - off) {
            errno = EPROTO; /* a message that overruns its datagram */
            return -2;
        }
        d = NLMSG_DATA(h);
        if (h->nlmsg_seq != seq || h->nlmsg_pid != portid)
            continue; /* not an answer to this request */
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);

            errno = EPROTO;
            if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0)
                errno = -e->error;
            return -2;
        }
        if ((h->nlmsg_flags & NLM_F_DUMP_INTR) != 0) {
            errno = EAGAIN; /* the table changed under the dump */
            return -2;
        }
        if (h->nlmsg_type == NLMSG_DONE) {
            int err = 0;

            /* A dump that failed midway ends with its error. */
            if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(err)))
                memcpy(&err, NLMSG_DATA(h), sizeof(err));
            if (err < 0) {
                errno = -err;
                return -2;
            }
            return 1;
        }
        /* Filtered again here: a kernel that ignored the port or the
         * state would otherwise hand us every socket. */
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
            h->nlmsg_len < NLMSG_LENGTH(sizeof(*d)) ||
            d->idiag_family != family || d->idiag_state != TCP_LISTEN ||
            ntohs(d->id.idiag_sport) != port || d->idiag_inode == 0)
            continue;
        if (*n >= max)
            return -1;
        socks[*n].inode = d->idiag_inode;
        socks[*n].uid = d->idiag_uid;
        (*n)++;
    }
    return 0;
}

int portown_diag(int family, int port, struct portown_sock *socks, size_t max,
                 size_t *n)
{
    static __u32 last_seq; /* a fresh socket each time: only a check */
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg;
    struct sockaddr_nl kernel, self;
    struct timeval wait = {DIAG_WAIT_MS / 1000, DIAG_WAIT_MS % 1000 * 1000};
    socklen_t slen = sizeof(self);
    size_t n0 = *n;
    void *buf = NULL;
    int fd, rc = -2, calls = 0, saved;

    if ((family != AF_INET && family != AF_INET6) || port <= 0 ||
        port > 65535) {
        errno = EINVAL;
        return -2;
    }
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -2;
    memset(&self, 0, sizeof(self));
    self.nl_family = AF_NETLINK;
    /* nl_pid 0: the kernel picks our port id, which its replies carry
     * in nlmsg_pid (their sender's nl_pid is 0, the kernel's). */
    if ((buf = malloc(DIAG_BUF)) == NULL ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)) < 0 ||
        bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0 ||
        getsockname(fd, (struct sockaddr *)&self, &slen) < 0)
        goto out;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;
    memset(&msg, 0, sizeof(msg));
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.nlh.nlmsg_seq = __atomic_add_fetch(&last_seq, 1, __ATOMIC_RELAXED);
    msg.req.sdiag_family = (__u8)family;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = 1U << TCP_LISTEN;
    msg.req.id.idiag_sport = htons((uint16_t)port);
    while (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel,
                  sizeof(kernel)) < 0) {
        if (errno != EINTR || ++calls >= DIAG_CALLS)
            goto out;
    }
    while (rc == -2) {
        struct iovec iov = {buf, DIAG_BUF};
        struct msghdr mh;
        ssize_t r;
        int p;

        if (++calls > DIAG_CALLS) {
            errno = E2BIG; /* no end in sight: /proc instead */
            goto out;
        }
        memset(&mh, 0, sizeof(mh));
        mh.msg_name = &kernel;
        mh.msg_namelen = sizeof(kernel);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        r = recvmsg(fd, &mh, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) /* EAGAIN: DIAG_WAIT_MS without an answer; ENOBUFS */
            goto out;
        if ((mh.msg_flags & MSG_TRUNC) != 0) {
            errno = EMSGSIZE;
            goto out;
        }
        if (mh.msg_namelen < sizeof(kernel) || kernel.nl_pid != 0)
            continue; /* not from the kernel */
        p = diag_parse(buf, (size_t)r, msg.nlh.nlmsg_seq, self.nl_pid, family,
                       port, socks, max, n);
        if (p < 0) {
            rc = p;
            goto out;
        }
        if (p == 1)
            rc = 0;
    }
out:
    saved = errno;
    if (rc == -2)
        *n = n0; /* no half answer */
    close(fd);
    free(buf);
    errno = saved;
    return rc;
}

/* Marks (sets to 0) every inode of pid's fds found in socks.  Returns
 * 0, or -1 when pid's fds cannot be read (another uid, and no
 * CAP_DAC_READ_SEARCH: CAP_SYS_PTRACE is not enough for that directory). */
static int mark_fds(long pid, struct portown_sock *socks, size_t n)
{
    char dir[64], path[PATH_MAX], link[64];
    struct dirent *de;
    DIR *d;

    snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
    d = opendir(dir);
    if (d == NULL)
        return errno == EACCES || errno == EPERM ? -1 : 0;
    while ((de = readdir(d)) != NULL) {
        unsigned long ino;
        ssize_t l;
        size_t k;
        char *e;

        if (de->d_name[0] == '.')
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
            (int)sizeof(path))
            continue;
        l = readlink(path, link, sizeof(link) - 1);
        if (l <= 0)
            continue;
        link[l] = '\0';
        if (strncmp(link, "socket:[", 8) != 0)
            continue;
        ino = strtoul(link + 8, &e, 10);
        if (*e != ']')
            continue;
        for (k = 0; k < n; k++) {
            if (socks[k].inode == ino)
                socks[k].inode = 0;
        }
    }
    closedir(d);
    return 0;
}

/* The real uid of pid (/proc/<pid>/status), or -1. */
static long uid_of(long pid)
{
    char path[64], line[256];
    long uid = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *e;

        if (strncmp(line, "Uid:", 4) != 0)
            continue;
        uid = strtol(line + 4, &e, 10);
        if (e == line + 4 || uid < 0)
            uid = -1;
        break;
    }
    fclose(f);
    return uid;
}

/* Appends the children of pid (every thread's) to procs. */
static void add_children(long pid, long *procs, size_t *np, char *buf)
{
    char dir[64], path[PATH_MAX];
    struct dirent *de;
    DIR *d;

    snprintf(dir, sizeof(dir), "/proc/%ld/task", pid);
    d = opendir(dir);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL && *np < PORTOWN_MAX_PROCS) {
        char *p, *e;
        ssize_t len;
        int fd;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        if (snprintf(path, sizeof(path), "%s/%s/children", dir, de->d_name) >=
            (int)sizeof(path))
            continue;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        len = read(fd, buf, CHILDREN_MAX - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        for (p = buf; *np < PORTOWN_MAX_PROCS; p = e) {
            long c = strtol(p, &e, 10);

            if (e == p || c <= 0)
                break;
            procs[(*np)++] = c;
        }
    }
    closedir(d);
}

int portown_check(long pid, int port)
{
    static const struct {
        int family;
        const char *path;
    } nets[] = {{AF_INET, "/proc/net/tcp"}, {AF_INET6, "/proc/net/tcp6"}};
    struct portown_sock socks[PORTOWN_MAX_SOCKETS];
    long *procs = NULL, uid = -1;
    int blind = 0;
    char *buf = NULL;
    size_t n = 0, np = 0, i, k;
    int rc = -1;

    if (pid <= 1 || port <= 0 || port > 65535)
        return -1;
    for (i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
        int r =
            portown_diag(nets[i].family, port, socks, PORTOWN_MAX_SOCKETS, &n);

        /* No sock_diag (no inet_diag module, a seccomp filter, a kernel
         * without IPv6 that refuses the family...): the /proc file. */
        if (r == -2)
            r = scan_net(nets[i].path, port, socks, PORTOWN_MAX_SOCKETS, &n);
        /* Without IPv6 there is no tcp6; any other failure: unknown. */
        if (r == -2 && (i == 0 || access(nets[i].path, F_OK) == 0))
            goto out;
        if (r == -1) {
            rc = 0; /* more listeners than any worker opens */
            goto out;
        }
    }
    if (n == 0)
        goto out;
    procs = malloc(PORTOWN_MAX_PROCS * sizeof(*procs));
    buf = malloc(CHILDREN_MAX);
    if (procs == NULL || buf == NULL)
        goto out;
    /* The tree, breadth first: pid, its children, theirs... */
    procs[np++] = pid;
    for (k = 0; k < np; k++) {
        if (mark_fds(procs[k], socks, n) < 0)
            blind = 1;
        add_children(procs[k], procs, &np, buf);
    }
    /* A tree whose fds we may not read (workers of worker_user seen from
     * the spawner's unit): a listener it holds is known by its uid, the
     * worker's.  Weaker than the inode (a process of the same uid passes),
     * and as strong as the uids are separate. */
    if (blind)
        uid = uid_of(pid);
    rc = 1;
    for (i = 0; i < n; i++) {
        if (socks[i].inode != 0 &&
            (!blind || uid < 0 || (unsigned long)uid != socks[i].uid))
            rc = 0;
    }
out:
    free(buf);
    free(procs);
    return rc;
}

int portown_check_as(long pid, int port, uid_t uid, gid_t gid)
{
    pid_t child;
    int status;

    child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        /* Our capabilities stay: the uids were not 0 before. */
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0)
            _exit(0);
        _exit(portown_check(pid, port) + 1);
    }
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) > 2)
        return -1;
    return WEXITSTATUS(status) - 1;
}
