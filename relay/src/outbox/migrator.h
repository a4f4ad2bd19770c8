// Applies the numbered SQL files of schema/ (embedded in the binary at build
// time) that the database has not seen yet. Each file records its own
// version, so files applied by hand with `psql -1 -f` count as applied.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace outbox {

struct SchemaFile {
  int version;
  const char* name;
  const char* sql;
};

// schema/*.sql in version order (generated at build time).
std::span<const SchemaFile> EmbeddedSchemaFiles();
// schema/options/*.sql: opt-in variants, applied only when asked for.
std::span<const SchemaFile> EmbeddedSchemaOptions();

// The versions of the options (their file names' numbers).
inline constexpr int kPartitionedOutbox = 1001;
inline constexpr int kPerKeySequence = 1002;

// The files `migrate` applies, in order: with `partitioned`, the
// partitioned outbox (in place of schema/0001); the numbered files; with
// `per_key_sequence`, its trigger.
std::vector<SchemaFile> SchemaPlan(bool partitioned, bool per_key_sequence);

struct MigrationReport {
  std::vector<std::string> applied;          // file names applied now
  std::vector<std::string> already_applied;  // file names found applied
};

// Each file in its own transaction under an advisory lock, so concurrent
// `migrate` runs apply each file once.
Result<MigrationReport> Migrate(const std::string& dsn, std::span<const SchemaFile> files);

}  // namespace outbox
