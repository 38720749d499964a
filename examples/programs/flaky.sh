#!/bin/sh
# Works for a few seconds, complains on stderr, then crashes with status 3:
# gafferd restarts it at once.
echo "flaky $$ starting"
sleep "${FLAKY_SECONDS:-5}"
echo "flaky $$ giving up" >&2
exit 3
