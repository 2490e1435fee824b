/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * prog.c - start-up shared by steel-fcgi, steel-spawner and steel-reaper
 * (prog.h).  fatal() is allowed here: nothing runs yet.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "prog.h"
#include "rconn.h"

volatile sig_atomic_t prog_got_term;
volatile sig_atomic_t prog_got_hup;
volatile sig_atomic_t prog_got_chld;

static void prog_usage(const struct prog *p, FILE *out)
{
    fprintf(out,
            "usage: %s [-dnVh] [-f file]%s%s\n"
            "  -f file  configuration file (default %s)\n"
            "  -n       check the configuration and exit\n"
            "  -d       debug logging\n"
            "  -V       print the version and exit\n"
            "  -h       print this help and exit\n",
            p->name, p->usage[0] ? " " : "", p->usage, STEEL_DEFAULT_CONF);
}

static void prog_apply_level(struct prog *p)
{
    enum log_level level = LOG_LEVEL_INFO;

    if (log_level_parse(p->conf.log_level, &level) < 0)
        level = LOG_LEVEL_INFO;
    log_set_level(p->debug ? LOG_LEVEL_DEBUG : level);
}

void prog_start(struct prog *p, int argc, char **argv,
                int (*handle_extra)(const char *arg))
{
    char err[1024];
    int check_only = 0, i;
    const char *env = getenv("STEEL_CONF");

    log_init(p->name, LOG_LEVEL_INFO);
    p->conf_path = (env != NULL && env[0] != '\0') ? env : STEEL_DEFAULT_CONF;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-f") == 0) {
            if (++i >= argc) {
                prog_usage(p, stderr);
                exit(2);
            }
            p->conf_path = argv[i];
        } else if (strcmp(a, "-n") == 0) {
            check_only = 1;
        } else if (strcmp(a, "-d") == 0) {
            p->debug = 1;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("%s %s\n", p->name, PACKAGE_VERSION);
            exit(0);
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            prog_usage(p, stdout);
            exit(0);
        } else if (handle_extra == NULL || handle_extra(a) < 0) {
            fprintf(stderr, "%s: unknown option %s\n", p->name, a);
            prog_usage(p, stderr);
            exit(2);
        }
    }
    if (conf_defaults(&p->conf) < 0)
        fatalx("cannot set the default configuration");
    if (conf_load(&p->conf, p->conf_path, err, sizeof(err)) < 0)
        fatalx("%s", err);
    conf_for_program(&p->conf, p->name);
    if (check_only) {
        printf("configuration OK\n");
        exit(0);
    }
    prog_apply_level(p);
    if (rconn_check_start(&p->conf, err, sizeof(err)) < 0)
        fatalx("%s", err);
}

int prog_reload(struct prog *p)
{
    struct conf *fresh;
    char err[1024];

    fresh = malloc(sizeof(*fresh));
    if (fresh == NULL) {
        log_warnx("reload: out of memory; keeping the old configuration");
        return -1;
    }
    if (conf_defaults(fresh) < 0 ||
        conf_load(fresh, p->conf_path, err, sizeof(err)) < 0) {
        log_warnx("reload refused, keeping the old configuration: %s", err);
        free(fresh);
        return -1;
    }
    conf_for_program(fresh, p->name);
    memcpy(&p->conf, fresh, sizeof(*fresh));
    free(fresh);
    prog_apply_level(p);
    log_info("configuration reloaded from %s", p->conf_path);
    return 0;
}

static void prog_on_signal(int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        prog_got_term = 1;
        break;
    case SIGHUP:
        prog_got_hup = 1;
        break;
    case SIGCHLD:
        prog_got_chld = 1;
        break;
    default:
        break;
    }
}

void prog_signals(int want_chld)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = prog_on_signal;
    sa.sa_flags = 0; /* no SA_RESTART: poll() and sleeps wake up */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (want_chld) {
        sa.sa_flags = SA_NOCLDSTOP;
        sigaction(SIGCHLD, &sa, NULL);
    }
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, NULL);
}

long prog_raise_nofile(void)
{
    struct rlimit rl;
    long was;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warn("getrlimit");
        return -1;
    }
    was = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
    if (rl.rlim_cur == rl.rlim_max)
        return was;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn("cannot raise the open-file limit");
    return was;
}
