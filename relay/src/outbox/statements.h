// The relay's named SQL statements on one session, and what a connection
// pooler between the relay and PostgreSQL changes about them.
//
// On a direct session a statement is prepared once and run by name (no
// parsing per call). Behind a transaction-pooling PgBouncer the next
// transaction may run on another server connection, where that prepared
// statement does not exist (SQLSTATE 26000): there every statement is sent
// unnamed with its parameters, and the session keeps no state at all (no
// SET, no LISTEN), which would otherwise also leak into other clients'
// server connections.
#pragma once

#include <map>
#include <pqxx/pqxx>
#include <string>
#include <utility>

namespace outbox {

// Whether a pooler answers for the server: the backend pid libpq got at
// start-up (the pooler's own cancel key, with PgBouncer) is not the server
// process this statement runs in.
bool BehindPooler(pqxx::connection& connection);

class Statements {
 public:
  // `pooled`: BehindPooler() of `connection`.
  Statements(pqxx::connection& connection, bool pooled)
      : connection_(connection), pooled_(pooled) {}

  bool pooled() const { return pooled_; }

  // Registers `sql` under `name` (prepared at once on a direct session).
  void Add(const std::string& name, std::string sql) {
    if (!pooled_) connection_.prepare(name, sql);
    sql_[name] = std::move(sql);
  }
  bool Has(const std::string& name) const { return sql_.count(name) > 0; }

  template <typename... Args>
  pqxx::result Exec(pqxx::transaction_base& tx, const std::string& name, Args&&... args) const {
    if (!pooled_) return tx.exec_prepared(name, std::forward<Args>(args)...);
    return tx.exec_params(sql_.at(name), std::forward<Args>(args)...);
  }
  template <typename... Args>
  pqxx::row Exec1(pqxx::transaction_base& tx, const std::string& name, Args&&... args) const {
    const pqxx::result result = Exec(tx, name, std::forward<Args>(args)...);
    if (result.size() != 1) throw pqxx::unexpected_rows("expected 1 row from " + name);
    return result[0];
  }

 private:
  pqxx::connection& connection_;
  bool pooled_;
  std::map<std::string, std::string> sql_;
};

}  // namespace outbox
