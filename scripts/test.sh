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
# The AWS CLI drives cmd/lambdaesm's end-to-end test (Debian's awscli);
# best effort: without it that part of the test is skipped with a line.
if ! command -v aws >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "test.sh: installing the AWS CLI (apt-get install awscli)" >&2
		{ timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq awscli; } >/dev/null 2>&1 ||
			echo "test.sh: could not install awscli; the AWS CLI part of cmd/lambdaesm's test will be skipped" >&2
	else
		echo "test.sh: no aws command and no root apt-get; the AWS CLI part of cmd/lambdaesm's test will be skipped" >&2
	fi
fi
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
