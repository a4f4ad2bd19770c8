// The migrator against a real PostgreSQL.
#include "outbox/migrator.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "support/throwaway_postgres.h"

namespace outbox {
namespace {

using testing::ThrowawayPostgres;

std::string DsnFor(const std::string& database) {
  std::string dsn = ThrowawayPostgres::Shared().dsn();
  const std::string from = "dbname=postgres";
  const size_t at = dsn.find(from);
  if (at == std::string::npos) return dsn + " dbname=" + database;
  return dsn.replace(at, from.size(), "dbname=" + database);
}

void RecreateDatabase(const std::string& name) {
  // CREATE DATABASE cannot run inside a transaction block: use psql.
  const std::string dsn = ThrowawayPostgres::Shared().dsn();
  const std::string command = "psql -q -v ON_ERROR_STOP=1 '" + dsn +
                              "' -c 'DROP DATABASE IF EXISTS " + name + "' -c 'CREATE DATABASE " +
                              name + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(Migrator, EmbedsTheSchemaFilesInVersionOrder) {
  const auto files = EmbeddedSchemaFiles();
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files[0].version, 1);
  EXPECT_STREQ(files[0].name, "0001_outbox.sql");
  for (size_t i = 1; i < files.size(); ++i) EXPECT_LT(files[i - 1].version, files[i].version);
}

TEST(Migrator, AppliesEverythingToAnEmptyDatabaseThenNothing) {
  RecreateDatabase("migrate_fresh");
  const std::string dsn = DsnFor("migrate_fresh");

  Result<MigrationReport> first = Migrate(dsn, EmbeddedSchemaFiles());
  Result<MigrationReport> second = Migrate(dsn, EmbeddedSchemaFiles());

  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->applied.size(), EmbeddedSchemaFiles().size());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->already_applied.size(), EmbeddedSchemaFiles().size());
}

TEST(Migrator, CountsFilesAppliedByHandWithPsqlAsApplied) {
  RecreateDatabase("migrate_by_hand");
  const std::string dsn = DsnFor("migrate_by_hand");
  const std::string command = "psql -q -v ON_ERROR_STOP=1 -1 '" + dsn + "' -f " +
                              OUTBOX_SOURCE_DIR + "/schema/0001_outbox.sql";
  ASSERT_EQ(std::system(command.c_str()), 0);

  Result<MigrationReport> report = Migrate(dsn, EmbeddedSchemaFiles());

  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->already_applied, std::vector<std::string>{"0001_outbox.sql"});
}

TEST(Migrator, AppsInsertWithOnlyTheContractColumns) {
  const ThrowawayPostgres& pg = ThrowawayPostgres::Shared();
  pg.ResetOutbox();
  pg.Exec("INSERT INTO outbox (topic, key, payload, headers) VALUES ('t', 'k', 'p', '{}')");
  EXPECT_EQ(pg.Query("SELECT count(*) FROM outbox WHERE created_at > now() - interval '1 minute'"),
            "1");
}

}  // namespace
}  // namespace outbox
