// BacklogSource on PostgreSQL, on its own connection so the gauges keep
// moving while the relay loop waits for a broker.
//
// Threading: one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "core/backlog.h"

namespace outbox {

class PgBacklogSource : public BacklogSource {
 public:
  explicit PgBacklogSource(std::string dsn);
  ~PgBacklogSource() override;

  Result<Backlog> Read() override;

 private:
  struct Connection;
  std::string dsn_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace outbox
