#include "outbox/backlog_queries.h"

#include <algorithm>
#include <string>

#include "outbox/enqueued_at_sql.h"

namespace outbox {

Backlog QueryBacklog(pqxx::transaction_base& tx) {
  Backlog backlog;
  backlog.pending = tx.exec("SELECT count(*) FROM (SELECT 1 FROM outbox LIMIT " +
                            std::to_string(kPendingExactLimit + 1) + ") bounded")[0][0]
                        .as<int64_t>();
  if (backlog.pending > kPendingExactLimit) {
    // n_live_tup follows inserts and deletes as they commit; never below
    // what was just counted.
    const pqxx::result estimate =
        tx.exec("SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = 'outbox'::regclass");
    if (!estimate.empty()) {
      backlog.pending = std::max(backlog.pending, estimate[0][0].as<int64_t>());
    }
    backlog.pending_is_estimate = true;
  }
  const pqxx::result oldest =
      tx.exec("SELECT extract(epoch FROM clock_timestamp() - " + EnqueuedAtSql("o", "o.xmin") +
              ")::float8 FROM outbox o ORDER BY id LIMIT 1");
  if (!oldest.empty()) backlog.oldest_pending_age_seconds = oldest[0][0].as<double>();
  const pqxx::result open = tx.exec(
      "SELECT extract(epoch FROM clock_timestamp() - min(xact_start))::float8 "
      "FROM pg_stat_activity "
      "WHERE datname = current_database() AND backend_xid IS NOT NULL "
      "AND pid <> pg_backend_pid()");
  if (!open[0][0].is_null()) backlog.oldest_open_transaction_age_seconds = open[0][0].as<double>();
  return backlog;
}

}  // namespace outbox
