#include "outbox/backlog_queries.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "outbox/enqueued_at_sql.h"

namespace outbox {
namespace {

// The outbox's live rows by the statistics (n_live_tup follows inserts and
// deletes as they commit), summed over a partitioned outbox's partitions;
// NULL before the statistics know the table. Pending and sent rows alike.
constexpr const char* kLiveRowsSql =
    "(SELECT sum(n_live_tup)::bigint FROM pg_stat_user_tables "
    "  WHERE relid = 'outbox'::regclass OR relid IN "
    "    (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'outbox'::regclass))";

// How many outbox rows match `where`, counting at most `limit` (an
// index-only scan of at most that many entries of a partial index).
int64_t BoundedCount(pqxx::transaction_base& tx, const char* where, int64_t limit) {
  return tx
      .exec(std::string("SELECT count(*) FROM (SELECT 1 FROM outbox WHERE ") + where + " LIMIT " +
            std::to_string(limit) + ") bounded")[0][0]
      .as<int64_t>();
}

}  // namespace

Backlog QueryBacklog(pqxx::transaction_base& tx) {
  Backlog backlog;
  // Pending rows only (sent_at IS NULL, schema/0007's partial index): rows
  // kept as sent are history, not backlog.
  backlog.pending = BoundedCount(tx, "sent_at IS NULL", kPendingExactLimit + 1);
  if (backlog.pending > kPendingExactLimit) {
    // Two estimates that are cheap at any size, the smaller one: the live
    // rows (which also counts sent rows), and the id range of the pending
    // rows (two probes of the partial index; ids are dense but for
    // rollbacks). Never below what was just counted.
    const pqxx::row estimate =
        tx.exec1(std::string("SELECT ") + kLiveRowsSql +
                 ", (SELECT max(id) - min(id) + 1 FROM outbox WHERE sent_at IS NULL)");
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
  sent.rows = BoundedCount(tx, "sent_at IS NOT NULL", kSentExactLimit + 1);
  if (sent.rows <= kSentExactLimit) return sent;
  // The live rows less the pending ones (counted up to a million), both
  // cheap at any size.
  const int64_t pending = BoundedCount(tx, "sent_at IS NULL", 1000000);
  sent.rows = std::max(sent.rows, tx.exec1(std::string("SELECT greatest(coalesce(") + kLiveRowsSql +
                                           ", 0) - " + std::to_string(pending) + ", 0)")[0]
                                      .as<int64_t>());
  sent.is_estimate = true;
  return sent;
}

}  // namespace outbox
