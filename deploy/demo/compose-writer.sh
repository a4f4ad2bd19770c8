#!/bin/sh
# docker-compose's demo writer: places an order every second, forever.
set -eu
until psql -tAqX -c "SELECT 1 FROM outbox LIMIT 0" >/dev/null 2>&1; do sleep 1; done
psql -qX -v ON_ERROR_STOP=1 -f /demo/orders.sql
while true; do
  /demo/write-orders.sh "" 1
  sleep 1
done
