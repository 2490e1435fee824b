/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_view.c - a node's worker records for a reader that keeps them
 * between reads (store.h: store_workers_view): read whole only when
 * P:ver:<node> moved, else only the session keys that may have ended.
 *
 * Invariants: one script, so the version, the records and the PTTLs are
 * one snapshot on the Redis clock; a version the caller holds is compared
 * in the same script that reads, so a change made between two reads is
 * never missed; the session ids asked about travel as one argument of
 * blank-separated ids (session_id_valid: no blanks), whatever their
 * number.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_core.h"
#include "util.h"

/* ARGV: P node ver "sid sid ..." -> {now, ver, '1', {fields..., pttl},
 * ...} when P:ver:<node> is not ver (or ver is ''), else {now, ver, '0',
 * pttl, ...} one per sid.  Records whose hash is gone are dropped from
 * the node's set, as the workers script does. */
static const struct store_script_def view_script = {
    SCRIPT_WORKERS_VIEW, LUA_HEAD
    "local v = redis.call('GET', ver_key(ARGV[2])) or ''\n"
    "if ARGV[3] == '' or v ~= ARGV[3] then\n"
    "  local set = node_key(ARGV[2])\n"
    "  local out = {nows, v, '1'}\n"
    "  for _, id in ipairs(redis.call('SMEMBERS', set)) do\n"
    "    local w = redis.call('HMGET', worker_key(id), 'id', 'node', 'host',\n"
    "      'port', 'pid', 'pstart', 'state', 'session', 'since', 'started',\n"
    "      'restarts', 'fails')\n"
    "    if not w[7] then\n"
    "      redis.call('SREM', set, id)\n"
    "    else\n"
    "      local pt = -2\n"
    "      if w[8] and w[8] ~= '' then\n"
    "        pt = redis.call('PTTL', session_key(w[8]))\n"
    "      end\n"
    "      w[13] = string.format('%d', pt)\n"
    "      for i = 1, 12 do if not w[i] then w[i] = '' end end\n"
    "      out[#out + 1] = w\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local out = {nows, v, '0'}\n"
    "for sid in string.gmatch(ARGV[4], '%S+') do\n"
    "  out[#out + 1] = string.format('%d', redis.call('PTTL', session_key(sid)))\n"
    "end\n"
    "return out\n"};

/* The asked ids, blank-separated, into a malloc'd string ("" for none). */
static char *join_sids(struct store *s, const char *const *sids, size_t n)
{
    size_t i, len = 1, at = 0;
    char *out;

    for (i = 0; i < n; i++)
        len += strlen(sids[i]) + 1;
    out = store_calloc(s, len, 1);
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        size_t l = strlen(sids[i]);

        if (i > 0)
            out[at++] = ' ';
        memcpy(out + at, sids[i], l);
        at += l;
    }
    out[at] = '\0';
    return out;
}

int store_workers_view(struct store *s, const char *node, const char *ver,
                       const char *const *sids, size_t nsids,
                       struct store_wview *out)
{
    const char *argv[3];
    redisReply *reply;
    char *joined;
    size_t i, count = 0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    joined = join_sids(s, sids, ver[0] != '\0' ? nsids : 0);
    if (joined == NULL)
        return -1;
    argv[0] = node;
    argv[1] = ver;
    argv[2] = joined;
    reply = store_run(s, &view_script, 3, argv, NULL);
    free(joined);
    if (reply == NULL)
        return -1;
    if (store_reply_array(s, reply, 3, "workers view") < 0)
        goto out;
    out->now_ms = reply_ll(reply->element[0]);
    reply_str(out->ver, sizeof(out->ver), reply->element[1]);
    out->full = reply_ll(reply->element[2]) == 1;
    if (out->full) {
        if (reply->elements > 3 &&
            (out->recs = store_calloc(s, reply->elements - 3,
                                      sizeof(*out->recs))) == NULL)
            goto out;
        for (i = 3; i < reply->elements; i++) {
            const redisReply *a = reply->element[i];

            if (a->type != REDIS_REPLY_ARRAY || a->elements != 13)
                continue;
            worker_rec_fill(&out->recs[count++], a, out->now_ms, 1);
        }
        out->nrecs = count;
    } else {
        if (reply->elements - 3 != (ver[0] != '\0' ? nsids : 0)) {
            store_fail(s, STORE_ERR_PROTOCOL, "unexpected workers view reply");
            goto out;
        }
        if (nsids > 0 &&
            (out->pttl = store_calloc(s, nsids, sizeof(*out->pttl))) == NULL)
            goto out;
        for (i = 0; i < nsids; i++)
            out->pttl[i] = reply_ll(reply->element[3 + i]);
    }
    rc = 0;
out:
    freeReplyObject(reply);
    if (rc < 0) {
        free(out->recs);
        free(out->pttl);
        out->recs = NULL;
        out->pttl = NULL;
    }
    return rc;
}
