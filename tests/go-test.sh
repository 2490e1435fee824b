#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# go-test.sh - the Go tests of tester/: the worker emulator, the
# steel-tester checks against fake orchestrators that each break one rule,
# the Prometheus parser and the report.  Run from make check.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
cd "$top_srcdir/tester" || exit 1
export GOFLAGS=-buildvcs=false GO111MODULE=on GOPROXY=off
export GOCACHE="${GOCACHE:-${HOME:-$top_builddir}/.cache/go-build}"
export GOPATH="${GOPATH:-${HOME:-$top_builddir}/go}"
go vet ./... || exit 1
go test -count=1 ./...
