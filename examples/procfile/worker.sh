#!/bin/sh
# A stand-in worker: a line every WORKER_INTERVAL seconds.
echo "worker $PS started with PORT=$PORT"
n=0
while :; do
	n=$((n + 1))
	echo "job $n done"
	sleep "${WORKER_INTERVAL:-5}"
done
