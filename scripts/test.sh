#!/usr/bin/env bash
# The whole test suite with the real SDK against the emulators: install and
# start them, run every test with integration tests on, and always stop the
# emulators, also when a test fails or the run is interrupted.
#
# GOTESTFLAGS (default -v) adds flags to `go test -race -count=1 ./...`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

emu=scripts/emulators.sh
t0=$SECONDS

"$emu" install
t1=$SECONDS

trap '"$emu" stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$emu" start
t2=$SECONDS
eval "$("$emu" env)"

status=0
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags
go test -race -count=1 ${GOTESTFLAGS--v} ./... || status=$?
t3=$SECONDS

echo "test.sh: install $((t1 - t0))s, start $((t2 - t1))s, go test $((t3 - t2))s, total $((t3 - t0))s (go test exit $status)" >&2
exit "$status"
