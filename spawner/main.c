/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * main.c - steel-spawner: starts and supervises this node's worker
 * processes (spawner.h).
 *
 * Runs in the foreground until SIGTERM or SIGINT, then stops every worker
 * and exits 0.  SIGHUP reloads the configuration (pool sizes, ports,
 * limits, backoff) without touching running workers.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "prog.h"
#include "spawner.h"

int main(int argc, char **argv)
{
    struct prog prog;
    struct spawner *s;
    int rc;

    memset(&prog, 0, sizeof(prog));
    prog.name = "steel-spawner";
    prog.usage = "";
    prog_start(&prog, argc, argv, NULL);
    prog_signals(1);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        fatalx("cannot initialise libcurl");
    s = spawner_new(&prog);
    if (s == NULL)
        fatalx("cannot start");
    rc = spawner_run(s);
    spawner_free(s);
    curl_global_cleanup();
    log_info("exiting");
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
