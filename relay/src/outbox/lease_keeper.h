// Holds this relay's shard leases (schema/0005) and keeps them: a thread
// with its own database session renews them every lease_ttl / 5, claims the
// shards of relays that are gone and hands shards over so that the live
// relays hold equal shares (see LeasePlan). The store reads and writes back
// only under the leases it gets here, and its statements check them again
// on the database (owner, epoch and expiry, on the database's clock): what
// this object believes can be stale, the database decides.
//
// Failover bound: a relay that dies, is paused or loses the database stops
// renewing; its leases run out lease_ttl after its last renewal, and the
// other relays claim them at their next round, at most lease_ttl / 5 later.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "core/lease_report.h"

namespace outbox {

struct LeaseOptions {
  std::chrono::milliseconds ttl{5000};
  // Unique per process; empty = host:pid:random.
  std::string instance_id;
};

// Leases as the store's statements pass them: shard i is held at epochs[i].
struct HeldLeases {
  std::vector<int> shards;
  std::vector<int64_t> epochs;
  int shard_count = 0;  // how many shards the outbox has (for the row's shard)
};

struct LeaseView {
  HeldLeases readable;        // held and not being handed over
  std::vector<int> draining;  // held, being handed over: read no more
};

class LeaseKeeper {
 public:
  using ReportCallback = std::function<void(const LeaseReport&)>;
  LeaseKeeper(std::string dsn, LeaseOptions options, ReportCallback on_report = {});
  ~LeaseKeeper();  // Stop()

  // One round now, in the caller's thread (a new relay reads at once), then
  // the renewal thread. Failures are logged and retried by the thread.
  void Start();
  // Hands every shard over and leaves the instance list, so that the other
  // relays take over at once instead of after lease_ttl. Call once nothing
  // is in flight any more.
  void Stop();
  bool started() const { return thread_.joinable(); }

  LeaseView View() const;
  HeldLeases Held() const;  // for write-backs: draining shards included
  // The store saw nothing in flight that was read from these draining
  // shards: they can be released now.
  void Drained(const std::vector<int>& shards);
  const std::string& instance_id() const { return options_.instance_id; }
  // How the last round went (Ok before the first).
  Status last_round() const;

 private:
  void Work();
  // One round of keeping; `leaving` releases everything.
  void Round(bool leaving);
  HeldLeases ToHeld(const std::map<int, int64_t>& leases) const;

  struct Session;  // the keeper's own connection (libpqxx stays in the .cc)
  std::string dsn_;
  LeaseOptions options_;
  ReportCallback on_report_;
  std::string host_;                  // registered with the instance
  std::unique_ptr<Session> session_;  // used by one thread at a time
  bool failing_ = false;              // to log a failure streak once
  int64_t rounds_ = 0;
  bool legacy_publisher_ = false;  // what was last logged

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<int, int64_t> held_;                                    // shard -> epoch
  std::map<int, std::chrono::steady_clock::time_point> draining_;  // shard -> since
  std::set<int> drained_;                                          // reported by the store
  int shard_count_ = 0;
  Status last_round_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace outbox
