#!/usr/bin/env bash
# The demo writer: places N orders, each as one transaction that inserts the
# business row and its outbox event together, the way an application does.
# Usage: write-orders.sh DSN N
set -euo pipefail
dsn=$1 count=$2
{
  for i in $(seq 1 "$count"); do
    customer="customer-$((i % 17))"
    amount=$(( (i * 7919) % 50000 + 100 ))
    cat <<SQL
BEGIN;
INSERT INTO orders (customer, amount_cents) VALUES ('$customer', $amount) RETURNING id AS order_id \gset
INSERT INTO outbox (topic, key, payload, headers)
VALUES ('orders', '$customer',
        convert_to(json_build_object('order_id', :order_id, 'customer', '$customer',
                                     'amount_cents', $amount)::text, 'UTF8'),
        jsonb_build_object('event-type', 'OrderPlaced', 'order-id', :'order_id'));
COMMIT;
SQL
  done
} | psql -q -X -v ON_ERROR_STOP=1 "$dsn" >/dev/null
