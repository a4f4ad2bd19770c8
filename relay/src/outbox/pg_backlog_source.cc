#include "outbox/pg_backlog_source.h"

#include <pqxx/pqxx>

#include "outbox/backlog_queries.h"
#include "outbox/pg_errors.h"

namespace outbox {

struct PgBacklogSource::Connection {
  explicit Connection(const std::string& dsn) : pq(dsn) {}
  pqxx::connection pq;
};

PgBacklogSource::PgBacklogSource(std::string dsn) : dsn_(std::move(dsn)) {}

PgBacklogSource::~PgBacklogSource() = default;

Result<Backlog> PgBacklogSource::Read() {
  try {
    if (!connection_ || !connection_->pq.is_open()) {
      connection_ = std::make_unique<Connection>(dsn_);
    }
    pqxx::read_transaction tx(connection_->pq);
    // For this transaction only: no session state, which a connection
    // pooler would lose, or hand to another client.
    // No JIT (see session_settings.h): a count over a large backlog would
    // compile itself at each scrape.
    tx.exec("SET LOCAL statement_timeout = '10s'; SET LOCAL jit = off");
    return QueryBacklog(tx);
  } catch (const pqxx::sql_error& e) {
    const std::string sqlstate = SqlStateOf(e);
    if (ClassifySqlState(sqlstate) == StatusCode::kUnavailable) connection_.reset();
    return Status(ClassifySqlState(sqlstate), "SQLSTATE " + sqlstate + ": " + e.what());
  } catch (const std::exception& e) {
    connection_.reset();
    return Status(StatusCode::kUnavailable, e.what());
  }
}

}  // namespace outbox
