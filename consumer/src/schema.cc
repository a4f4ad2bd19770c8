// ApplySchema: the numbered files of schema/inbox/ the database has not seen.
// Each file records its own version, so files applied by hand with
// `psql -1 -f` count as applied.
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>

#include "outbox/inbox/consumer.h"
#include "schema_files.h"

namespace outbox::inbox {
namespace {

// An arbitrary constant shared by every ApplySchema() ("inbox").
constexpr int64_t kSchemaLockKey = 0x696e626f78;

bool Applied(pqxx::work& tx, int version) {
  if (!tx.exec1("SELECT to_regclass('outbox_inbox_schema_migrations') IS NOT NULL")[0].as<bool>()) {
    return false;
  }
  return !tx.exec_params("SELECT 1 FROM outbox_inbox_schema_migrations WHERE version = $1", version)
              .empty();
}

}  // namespace

void ApplySchema(const std::string& dsn) {
  std::string current = "(connecting)";
  try {
    pqxx::connection connection(dsn);
    for (const SchemaFile& file : InboxSchemaFiles()) {
      current = std::string("schema/inbox/") + file.name;
      // A transaction-level lock: nothing outlives the transaction, also
      // behind a transaction-pooling PgBouncer.
      pqxx::work tx(connection);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLockKey);
      if (Applied(tx, file.version)) continue;
      tx.exec(file.sql);
      if (!Applied(tx, file.version)) {
        throw std::runtime_error("did not record its version in outbox_inbox_schema_migrations");
      }
      tx.commit();
    }
  } catch (const pqxx::sql_error& e) {
    throw std::runtime_error("outbox::inbox::ApplySchema: " + current + ": SQLSTATE " +
                             e.sqlstate() + ": " + e.what());
  } catch (const std::exception& e) {
    throw std::runtime_error("outbox::inbox::ApplySchema: " + current + ": " + e.what());
  }
}

}  // namespace outbox::inbox
