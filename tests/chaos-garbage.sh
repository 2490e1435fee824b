#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# chaos-garbage.sh - tests/chaos.sh with garbage replies on top of the
# crashes and hangs: 2 % of the requests a worker gets answer 200 with
# cut-off JSON.  A create treats such a worker as failed and moves on; a
# GET answers 502 and never passes the garbage on.
export CHAOS_GARBAGE_PROB=0.02
exec bash "$(dirname "$0")/chaos.sh"
