/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * main.c - steel-reaper: runs a reaper pass (reaper.h) every reap_interval
 * seconds, or once with --once (for cron and systemd timers).
 *
 * Passes start reap_interval apart; one that ran longer is followed by the
 * next at once.  SIGHUP reloads the configuration between passes; SIGTERM
 * or SIGINT make the current pass stop changing things, release its lock
 * and exit 0.  The process never daemonizes.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "privsep.h"
#include "prog.h"
#include "reaper.h"
#include "util.h"

static int opt_once;

static int handle_extra(const char *arg)
{
    if (strcmp(arg, "--once") == 0) {
        opt_once = 1;
        return 0;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct prog prog;
    struct reaper rp;
    struct privsep ps;
    char err[512];
    int64_t next;
    int rc;

    memset(&prog, 0, sizeof(prog));
    prog.name = "steel-reaper";
    prog.usage = "[--once]";
    prog_start(&prog, argc, argv, handle_extra);
    prog_signals(0);
    /* A probe connection and a pidfd per worker. */
    prog_raise_nofile();
    /* Workers of worker_user are found and killed only with CAP_KILL and
     * CAP_SYS_PTRACE. */
    if (privsep_daemon_check(&prog.conf, 0, &ps, err, sizeof(err)) < 0)
        fatalx("%s", err);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        fatalx("cannot initialise libcurl");
    if (reaper_init(&rp, &prog.conf) < 0)
        fatalx("cannot start");
    if (ps.drop) {
        rp.worker_uid_lo = ps.uid_lo;
        rp.worker_uid_hi = ps.uid_hi;
    }

    if (opt_once) {
        rp.once = 1;
        rc = reaper_pass(&rp);
        reaper_release(&rp);
        curl_global_cleanup();
        return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
    }

    log_info("started: node %s, prefix %s, a pass every %ld s, probes "
             "%ld ms, kill after %ld failures",
             prog.conf.node_name, prog.conf.key_prefix, prog.conf.reap_interval,
             prog.conf.probe_timeout_ms, prog.conf.probe_failures);
    next = now_mono_ms();
    while (!prog_got_term) {
        int64_t now;

        if (prog_got_hup) {
            prog_got_hup = 0;
            if (prog_reload(&prog) == 0)
                reaper_configure(&rp, &prog.conf);
        }
        now = now_mono_ms();
        if (now >= next) {
            next = now + prog.conf.reap_interval * 1000;
            if (reaper_pass(&rp) == REAPER_REFUSED) {
                reaper_release(&rp);
                curl_global_cleanup();
                return EXIT_FAILURE;
            }
            continue;
        }
        /* Wake at least once a second; a signal ends the sleep early. */
        sleep_ms(next - now < 1000 ? next - now : 1000);
    }
    log_info("stopped");
    reaper_release(&rp);
    curl_global_cleanup();
    return EXIT_SUCCESS;
}
