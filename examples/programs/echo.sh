#!/bin/sh
# Echoes every line written to its stdin, upper-cased.
while IFS= read -r line; do
  printf '%s\n' "$line" | tr '[:lower:]' '[:upper:]'
done
