// schema/inbox/*.sql, embedded at build time (schema_files.cc.in).
#pragma once

#include <span>

namespace outbox::inbox {

struct SchemaFile {
  int version;
  const char* name;
  const char* sql;
};

std::span<const SchemaFile> InboxSchemaFiles();

}  // namespace outbox::inbox
