#!/bin/sh
# A stand-in web server: says where it would listen, then waits.
echo "web $PS listening on port $PORT ($GREETING)"
while :; do sleep 60; done
