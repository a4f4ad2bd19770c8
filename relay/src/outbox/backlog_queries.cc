#include "outbox/backlog_queries.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "outbox/enqueued_at_sql.h"

namespace outbox {

Backlog QueryBacklog(pqxx::transaction_base& tx) {
  Backlog backlog;
  // Pending rows only (sent_at IS NULL, schema/0007's partial index): rows
  // kept as sent are history, not backlog.
  backlog.pending =
      tx.exec("SELECT count(*) FROM (SELECT 1 FROM outbox WHERE sent_at IS NULL LIMIT " +
              std::to_string(kPendingExactLimit + 1) + ") bounded")[0][0]
          .as<int64_t>();
  if (backlog.pending > kPendingExactLimit) {
    // Two estimates that are cheap at any size, the smaller one: the live
    // rows (n_live_tup follows inserts and deletes as they commit, summed
    // over a partitioned outbox's partitions; it also counts sent rows), and
    // the id range of the pending rows (two probes of the partial index; ids
    // are dense but for rollbacks). Never below what was just counted.
    const pqxx::row estimate = tx.exec1(
        "SELECT (SELECT sum(n_live_tup)::bigint FROM pg_stat_user_tables "
        "         WHERE relid = 'outbox'::regclass OR relid IN "
        "           (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'outbox'::regclass)), "
        "       (SELECT max(id) - min(id) + 1 FROM outbox WHERE sent_at IS NULL)");
    int64_t guess = INT64_MAX;
    for (const auto& field : estimate) {
      if (!field.is_null()) guess = std::min(guess, field.as<int64_t>());
    }
    if (guess != INT64_MAX) backlog.pending = std::max(backlog.pending, guess);
    backlog.pending_is_estimate = true;
  }
  const pqxx::result oldest =
      tx.exec("SELECT extract(epoch FROM clock_timestamp() - " + EnqueuedAtSql("o", "o.xmin") +
              ")::float8 FROM outbox o WHERE sent_at IS NULL ORDER BY id LIMIT 1");
  if (!oldest.empty()) backlog.oldest_pending_age_seconds = oldest[0][0].as<double>();
  const pqxx::result open = tx.exec(
      "SELECT extract(epoch FROM clock_timestamp() - min(xact_start))::float8 "
      "FROM pg_stat_activity "
      "WHERE datname = current_database() AND backend_xid IS NOT NULL "
      "AND pid <> pg_backend_pid()");
  if (!open[0][0].is_null()) backlog.oldest_open_transaction_age_seconds = open[0][0].as<double>();
  return backlog;
}

SentRows CountSentRows(pqxx::transaction_base& tx) {
  SentRows sent;
  sent.rows =
      tx.exec("SELECT count(*) FROM (SELECT 1 FROM outbox WHERE sent_at IS NOT NULL LIMIT " +
              std::to_string(kSentExactLimit + 1) + ") s")[0][0]
          .as<int64_t>();
  if (sent.rows <= kSentExactLimit) return sent;
  // The live rows (summed over a partitioned outbox's partitions) less the
  // pending ones, both cheap at any size.
  sent.rows = std::max(
      sent.rows,
      tx.exec1("SELECT greatest((SELECT coalesce(sum(n_live_tup), 0)::bigint "
               "  FROM pg_stat_user_tables WHERE relid = 'outbox'::regclass OR relid IN "
               "    (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'outbox'::regclass)) "
               "  - (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE sent_at IS NULL "
               "       LIMIT 1000000) p), 0)")[0]
          .as<int64_t>());
  sent.is_estimate = true;
  return sent;
}

}  // namespace outbox
