#include "outbox/migrator.h"

#include <cstdlib>
#include <pqxx/pqxx>

#include "outbox/pg_errors.h"

namespace outbox {
namespace {

// An arbitrary constant shared by every `outbox-relay migrate`.
constexpr int64_t kMigrationLockKey = 0x6f7574626f78;  // "outbox"

bool Applied(pqxx::work& tx, int version) {
  if (!tx.exec1("SELECT to_regclass('outbox_relay_schema_migrations') IS NOT NULL")[0].as<bool>()) {
    return false;
  }
  return !tx.exec("SELECT 1 FROM outbox_relay_schema_migrations WHERE version = " +
                  std::to_string(version))
              .empty();
}

const SchemaFile& Option(int version) {
  for (const SchemaFile& file : EmbeddedSchemaOptions()) {
    if (file.version == version) return file;
  }
  std::abort();  // a build without schema/options: caught by every test
}

}  // namespace

std::vector<SchemaFile> SchemaPlan(bool partitioned, bool per_key_sequence) {
  std::vector<SchemaFile> plan;
  if (partitioned) plan.push_back(Option(kPartitionedOutbox));
  for (const SchemaFile& file : EmbeddedSchemaFiles()) plan.push_back(file);
  if (per_key_sequence) plan.push_back(Option(kPerKeySequence));
  return plan;
}

Result<MigrationReport> Migrate(const std::string& dsn, std::span<const SchemaFile> files) {
  try {
    pqxx::connection connection(dsn);
    MigrationReport report;
    for (const SchemaFile& file : files) {
      // One transaction per file under a transaction-level lock: concurrent
      // runs apply each file once, and nothing outlives the transaction (a
      // session lock taken through a transaction-pooling PgBouncer would
      // stay with a server connection and block the next migrate).
      pqxx::work tx(connection);
      tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")");
      if (Applied(tx, file.version)) {
        report.already_applied.emplace_back(file.name);
        continue;
      }
      tx.exec(file.sql);
      if (!Applied(tx, file.version)) {
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
