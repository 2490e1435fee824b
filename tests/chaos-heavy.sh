#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# chaos-heavy.sh - tests/chaos.sh with five times the faults: workers crash
# on 10 % and hang for good on 5 % of the requests they get, 300 flows, 20
# at a time.  A worker then often dies within a second of its start, so
# the restart policy must tell these random deaths from a broken binary
# (a worker that served a session made a healthy start): the pool never
# turns degraded, and at least 95 % of the creates get a session.  A
# create whose create_attempts workers all failed may answer 502.
export CHAOS_CRASH_PROB=0.10 CHAOS_HANG_PROB=0.05
export CHAOS_FLOWS=300 CHAOS_PARALLEL=20
export CHAOS_MIN_CREATE_OK=95
exec bash "$(dirname "$0")/chaos.sh"
