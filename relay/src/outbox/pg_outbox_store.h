// OutboxStore on PostgreSQL via libpqxx: the only place that talks to the
// outbox table. libpqxx exceptions stop here and become Status codes.
//
// One relay publishes at a time: the store reads only while its session holds
// an advisory lock on the outbox. Other instances read empty batches (standby)
// and take over as soon as the holder's session ends, so keys stay in order
// even when several relays are started by mistake or for availability.
//
// Threading: one thread at a time (it owns one connection).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/outbox_store.h"
#include "outbox/read_floor.h"

namespace outbox {

class PgOutboxStore : public OutboxStore {
 public:
  // `on_lock_change(true)` when this instance starts publishing, false when
  // it loses the lock (its connection ended).
  using LockCallback = std::function<void(bool holds_lock)>;
  explicit PgOutboxStore(std::string dsn, LockCallback on_lock_change = {});
  ~PgOutboxStore() override;

  using OutboxStore::ReadBatch;
  Result<std::vector<OutboxMessage>> ReadBatch(const ReadRequest& request) override;
  // Waits for a notification from schema/0003's trigger, if it exists.
  Wakeup AwaitNewRows(std::chrono::milliseconds timeout, const StopSignal& stop) override;
  bool listening() const override;

  // The batch read's SQL for up to `max_rows` rows (parameters: skip
  // [$1, $2], $3 bytes, $4 floor), also for the benchmark's EXPLAIN of
  // exactly what the relay runs.
  static std::string ReadBatchSql(size_t max_rows);

  // Ids below this are known to be gone; reads start here (see ReadFloor).
  int64_t read_floor() const { return floor_.floor(); }
  Status Settle(const Settlement& settlement) override;
  Result<int64_t> CountBlockedKeys() override;

 private:
  // Connects (again) if there is no healthy connection.
  Status EnsureConnected();
  // Maps a libpqxx exception to a Status; drops the connection when broken.
  Status Classify(const std::exception& e);
  // Tries to take the outbox lock on the current connection.
  bool TryLock();
  // Keeps floor_ current (see ReadFloor); on the read's connection.
  void MaintainFloor();
  // The prepared read for this batch size (prepared on first use).
  std::string PrepareRead(size_t max_rows);
  void DropConnection();

  struct Connection;  // wraps pqxx::connection, so libpqxx stays in the .cc
  std::string dsn_;
  std::unique_ptr<Connection> connection_;
  LockCallback on_lock_change_;
  bool holds_lock_ = false;
  bool standby_logged_ = false;
  // Backend pid of the session holding the lock, and of the last one lost.
  int session_pid_ = 0;
  int lost_session_pid_ = 0;
  ReadFloor floor_;
  int64_t floor_before_reset_ = 0;        // to report rows the floor hid
  std::optional<int64_t> requeues_seen_;  // schema/0004's counter
  static constexpr std::chrono::milliseconds kFloorObserveInterval{20};
  static constexpr std::chrono::seconds kFloorResetInterval{10};
  SteadyClock::time_point floor_observed_at_{};
  SteadyClock::time_point floor_reset_at_{};
  std::optional<bool> listening_logged_;  // what was last logged
};

}  // namespace outbox
