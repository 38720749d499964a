#!/bin/sh
# Prints a numbered tick every second, on stdout, forever.
n=0
while :; do
  n=$((n + 1))
  echo "tick $n from pid $$ (PORT=${PORT:-unset})"
  sleep 1
done
