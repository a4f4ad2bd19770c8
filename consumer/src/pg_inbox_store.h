// The inbox in PostgreSQL (libpqxx): the tables of schema/inbox/. Owns the
// consumer's one connection and turns libpqxx's exceptions into
// StoreUnavailable and HandlerFailed.
#pragma once

#include <chrono>
#include <memory>
#include <pqxx/connection>
#include <string>

#include "inbox_store.h"
#include "outbox/inbox/consumer.h"

namespace outbox::inbox {

class PgInboxStore : public InboxStore {
 public:
  // prepare: prepare the inbox's statements once per connection (not
  // behind a transaction pooler).
  PgInboxStore(std::string dsn, std::string consumer, Handler handler, bool prepare);
  ~PgInboxStore() override;

  // Connects if not connected (a lost connection is dropped by the call
  // that lost it, and made again here).
  std::unique_ptr<InboxTransaction> Begin() override;

  // Removes up to `batch` of this consumer's inbox rows received more than
  // `age` ago (never held ones); returns how many.
  int64_t RemoveOlderThan(std::chrono::seconds age, int batch);

 private:
  class Transaction;
  pqxx::connection& Connection();

  std::string dsn_;
  std::string consumer_;
  Handler handler_;
  bool prepare_;
  std::unique_ptr<pqxx::connection> connection_;
  bool broken_ = false;  // drop connection_ at the next Begin()
};

}  // namespace outbox::inbox
