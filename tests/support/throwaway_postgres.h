// A real PostgreSQL for tests: started once per test binary from
// scripts/throwaway-pg and loaded with the production DDL (schema/, through
// the relay's own migrator). OUTBOX_TEST_POSTGRES_DSN points the tests at an
// existing server instead. There is no fallback: if no server can be had,
// the tests fail.
#pragma once

#include <string>

namespace outbox::testing {

class ThrowawayPostgres {
 public:
  // The binary's shared server, started on first use, stopped at exit.
  static ThrowawayPostgres& Shared();

  const std::string& dsn() const { return dsn_; }

  // Runs SQL in its own transaction; throws on failure.
  void Exec(const std::string& sql) const;
  // First column of the first row as text ("" for NULL or no rows).
  std::string Query(const std::string& sql) const;
  // Runs `pg_ctl ARGS` on the throwaway server (e.g. "stop -m immediate").
  void Ctl(const std::string& args) const;
  // Empties the outbox and the dead letters, restarts the ids and frees the
  // shard leases.
  void ResetOutbox() const;

  ~ThrowawayPostgres();

 private:
  ThrowawayPostgres();
  std::string dir_;  // empty when using an external server
  std::string dsn_;
};

}  // namespace outbox::testing
