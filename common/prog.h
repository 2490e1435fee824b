/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * prog.h - what every program does at start: options, the configuration
 * file, logging, signals.
 *
 * Options common to all programs:
 *   -f PATH   configuration file (default STEEL_DEFAULT_CONF, or $STEEL_CONF)
 *   -n        check the configuration, print "configuration OK", exit 0
 *   -d        debug logging (overrides log_level)
 *   -V        print the version and exit
 *   -h        print usage and exit
 * A program may accept more single-letter or long options: it passes them
 * in extra_opts and handles them in its callback.
 */
#ifndef STEEL_PROG_H
#define STEEL_PROG_H

#include <signal.h>

#include "conf.h"

extern volatile sig_atomic_t prog_got_term; /* SIGTERM or SIGINT */
extern volatile sig_atomic_t prog_got_hup;  /* SIGHUP */
extern volatile sig_atomic_t prog_got_chld; /* SIGCHLD */

struct prog {
    const char *name;         /* "steel-spawner" */
    const char *usage;        /* synopsis after the name, for -h */
    const char *conf_path;    /* the file read, for reloads */
    int debug;                /* -d was given */
    struct conf conf;         /* the configuration in force */
};

/* Parses the common options (and long options "--once" style through
 * handle_extra, which returns 0 when it took the argument, -1 otherwise),
 * loads the configuration, sets up logging.  Exits on -n, -V, -h and on
 * errors (fatalx).  Start-up only. */
void prog_start(struct prog *p, int argc, char **argv,
                int (*handle_extra)(const char *arg));

/* Reads the configuration file again into a fresh struct and, only when it
 * parses, copies it into p->conf.  Returns 0, or -1 after logging why the
 * old settings stay. */
int prog_reload(struct prog *p);

/* Raises the soft open-file limit to the hard one (a descriptor per
 * worker: the reaper's probes and pidfds, the spawner's pidfds, steel-fcgi's
 * kept connections).  Returns the soft limit it started with, or -1
 * (logged) when it cannot be read. */
long prog_raise_nofile(void);

/* Installs flag-setting handlers for SIGTERM, SIGINT, SIGHUP and (when
 * want_chld) SIGCHLD, without SA_RESTART, and ignores SIGPIPE. */
void prog_signals(int want_chld);

#endif
