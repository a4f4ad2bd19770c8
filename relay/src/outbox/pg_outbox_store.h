// OutboxStore on PostgreSQL via libpqxx: the only place that talks to the
// outbox table. libpqxx exceptions stop here and become Status codes.
//
// Threading: one thread at a time (it owns one connection).
#pragma once

#include <memory>
#include <string>

#include "core/outbox_store.h"

namespace outbox {

class PgOutboxStore : public OutboxStore {
 public:
  explicit PgOutboxStore(std::string dsn);
  ~PgOutboxStore() override;

  Result<std::vector<OutboxMessage>> ReadBatch(size_t max_rows) override;
  Status Remove(std::span<const int64_t> ids) override;

 private:
  // Connects (again) if there is no healthy connection.
  Status EnsureConnected();
  // Maps a libpqxx exception to a Status; drops the connection when broken.
  Status Classify(const std::exception& e);

  struct Connection;  // wraps pqxx::connection, so libpqxx stays in the .cc
  std::string dsn_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace outbox
