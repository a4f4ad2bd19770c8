#include "support/throwaway_postgres.h"

#include <cstdio>
#include <cstdlib>
#include <pqxx/pqxx>
#include <stdexcept>

#include "outbox/migrator.h"

namespace outbox::testing {
namespace {

std::string Script() { return std::string(OUTBOX_SOURCE_DIR) + "/scripts/throwaway-pg"; }

std::string RunAndCapture(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  const int status = pclose(pipe);
  if (status != 0) throw std::runtime_error(command + " failed");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

ThrowawayPostgres& ThrowawayPostgres::Shared() {
  static ThrowawayPostgres server;
  return server;
}

ThrowawayPostgres::ThrowawayPostgres() {
  if (const char* external = std::getenv("OUTBOX_TEST_POSTGRES_DSN")) {
    dsn_ = external;
  } else {
    char dir[] = "/tmp/outbox-test-pg.XXXXXX";
    if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    dsn_ = RunAndCapture(Script() + " start " + dir_);
  }
  Result<MigrationReport> migrated = Migrate(dsn_, EmbeddedSchemaFiles());
  if (!migrated.ok()) {
    throw std::runtime_error("applying schema/ failed: " + migrated.status().message());
  }
}

ThrowawayPostgres::~ThrowawayPostgres() {
  if (!dir_.empty()) {
    const std::string command = Script() + " stop " + dir_;
    if (std::system(command.c_str()) != 0) std::fprintf(stderr, "%s failed\n", command.c_str());
  }
}

void ThrowawayPostgres::Exec(const std::string& sql) const {
  pqxx::connection connection(dsn_);
  pqxx::work tx(connection);
  tx.exec(sql);
  tx.commit();
}

std::string ThrowawayPostgres::Query(const std::string& sql) const {
  pqxx::connection connection(dsn_);
  pqxx::nontransaction tx(connection);
  const pqxx::result result = tx.exec(sql);
  if (result.empty() || result[0][0].is_null()) return "";
  return result[0][0].as<std::string>();
}

void ThrowawayPostgres::Ctl(const std::string& args) const {
  if (dir_.empty()) throw std::runtime_error("pg_ctl needs the throwaway server");
  RunAndCapture(Script() + " ctl " + dir_ + " " + args + " >/dev/null");
}

void ThrowawayPostgres::ResetOutbox() const {
  Exec("TRUNCATE outbox, outbox_dead_letter RESTART IDENTITY");
  // Leases a test left behind (stores hand theirs over when destroyed).
  Exec(
      "UPDATE outbox_relay_lease SET owner = NULL, lease_until = '-infinity'; "
      "TRUNCATE outbox_relay_instance");
}

}  // namespace outbox::testing
