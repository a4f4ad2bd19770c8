#include "outbox/migrator.h"

#include <pqxx/pqxx>
#include <set>

#include "outbox/pg_errors.h"

namespace outbox {
namespace {

// An arbitrary constant shared by every `outbox-relay migrate`.
constexpr int64_t kMigrationLockKey = 0x6f7574626f78;  // "outbox"

std::set<int> AppliedVersions(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection);
  const pqxx::result exists =
      tx.exec("SELECT to_regclass('outbox_relay_schema_migrations') IS NOT NULL");
  std::set<int> versions;
  if (!exists[0][0].as<bool>()) return versions;
  for (const pqxx::row& row : tx.exec("SELECT version FROM outbox_relay_schema_migrations")) {
    versions.insert(row[0].as<int>());
  }
  return versions;
}

}  // namespace

Result<MigrationReport> Migrate(const std::string& dsn, std::span<const SchemaFile> files) {
  try {
    pqxx::connection connection(dsn);
    pqxx::nontransaction(connection)
        .exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLockKey) + ")");
    MigrationReport report;
    const std::set<int> applied = AppliedVersions(connection);
    for (const SchemaFile& file : files) {
      if (applied.count(file.version) > 0) {
        report.already_applied.emplace_back(file.name);
        continue;
      }
      pqxx::work tx(connection);
      tx.exec(file.sql);
      const pqxx::result recorded =
          tx.exec("SELECT 1 FROM outbox_relay_schema_migrations WHERE version = " +
                  std::to_string(file.version));
      if (recorded.empty()) {
        return Status(StatusCode::kInternal, std::string(file.name) +
                                                 " did not record its version in "
                                                 "outbox_relay_schema_migrations");
      }
      tx.commit();
      report.applied.emplace_back(file.name);
    }
    return report;
  } catch (const pqxx::broken_connection& e) {
    return Status(StatusCode::kUnavailable, e.what());
  } catch (const pqxx::sql_error& e) {
    return Status(StatusCode::kFailedPrecondition, "SQLSTATE " + SqlStateOf(e) + ": " + e.what());
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, e.what());
  }
}

}  // namespace outbox
