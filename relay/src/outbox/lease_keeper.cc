#include "outbox/lease_keeper.h"

#include <unistd.h>

#include <cstdio>
#include <pqxx/pqxx>
#include <random>

#include "common/log.h"
#include "common/shard_list.h"
#include "outbox/lease_plan.h"
#include "outbox/legacy_lock.h"
#include "outbox/pg_errors.h"
#include "outbox/session_settings.h"
#include "outbox/sql_text.h"
#include "outbox/statements.h"

namespace outbox {
namespace {

using Clock = std::chrono::steady_clock;

// $n * interval '1 millisecond': the lease's length, from the database's clock.
constexpr const char* kRegisterSql = R"(
INSERT INTO outbox_relay_instance (id, host, pid, alive_until)
VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
ON CONFLICT (id) DO UPDATE SET alive_until = excluded.alive_until)";

constexpr const char* kLiveSql = R"(
SELECT id, (SELECT count(*) FROM outbox_relay_lease)::int
  FROM outbox_relay_instance WHERE alive_until > now() ORDER BY id)";

// Whether a relay from before shard leases publishes (holds its lock).
const std::string kLegacyPublisherSql =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND objsubid = 1 AND classid = " +
    std::to_string(static_cast<uint64_t>(kLegacyPublisherLockKey) >> 32) +
    " AND objid = " + std::to_string(static_cast<uint64_t>(kLegacyPublisherLockKey) & 0xffffffffu) +
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))";

// Extends the leases still held at the epochs this relay knows. A lease that
// ran out but was not claimed by anyone is renewed too: nobody acted on its
// shard in between (the epoch is unchanged).
constexpr const char* kRenewSql = R"(
UPDATE outbox_relay_lease l SET lease_until = now() + $2 * interval '1 millisecond'
  FROM unnest($3::int[], $4::bigint[]) AS h(shard, epoch)
 WHERE l.shard = h.shard AND l.epoch = h.epoch AND l.owner = $1
RETURNING l.shard)";

constexpr const char* kReleaseSql = R"(
UPDATE outbox_relay_lease l SET owner = NULL, lease_until = '-infinity'
  FROM unnest($2::int[], $3::bigint[]) AS h(shard, epoch)
 WHERE l.shard = h.shard AND l.epoch = h.epoch AND l.owner = $1)";

// Free shards: never held, released, or their lease ran out. Claiming one
// raises its epoch, which fences out the previous holder's statements.
constexpr const char* kClaimSql = R"(
UPDATE outbox_relay_lease l
   SET owner = $1, epoch = l.epoch + 1, acquired_at = now(),
       lease_until = now() + $2 * interval '1 millisecond'
  FROM (SELECT shard, owner FROM outbox_relay_lease
         WHERE owner IS NULL OR lease_until <= now()
         ORDER BY shard LIMIT $3 FOR UPDATE SKIP LOCKED) free
 WHERE l.shard = free.shard
RETURNING l.shard, l.epoch, coalesce(free.owner, ''))";

constexpr const char* kLeaveSql = "DELETE FROM outbox_relay_instance WHERE id = $1";

// Instances gone for an hour drop out of `outbox-relay status`.
constexpr const char* kForgetSql =
    "DELETE FROM outbox_relay_instance WHERE alive_until < now() - interval '1 hour'";

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "unknown";
  return host;
}

// Unique per process (the random part also tells apart two keepers of one
// process, as in tests).
std::string GeneratedInstanceId(const std::string& host) {
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%06x", random() & 0xffffff);
  return host + ":" + std::to_string(getpid()) + ":" + suffix;
}

}  // namespace

struct LeaseKeeper::Session {
  explicit Session(const std::string& dsn) : pq(dsn), statements(pq, BehindPooler(pq)) {}
  pqxx::connection pq;
  Statements statements;
};

LeaseKeeper::LeaseKeeper(std::string dsn, LeaseOptions options, ReportCallback on_report)
    : dsn_(std::move(dsn)),
      options_(std::move(options)),
      on_report_(std::move(on_report)),
      host_(HostName()) {
  if (options_.instance_id.empty()) options_.instance_id = GeneratedInstanceId(host_);
}

LeaseKeeper::~LeaseKeeper() { Stop(); }

void LeaseKeeper::Start() {
  if (thread_.joinable()) return;
  LogInfo("relay instance",
          {{"instance", options_.instance_id}, {"lease_ttl_ms", options_.ttl.count()}});
  Round(/*leaving=*/false);
  thread_ = std::thread([this] { Work(); });
}

void LeaseKeeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  Round(/*leaving=*/true);
}

void LeaseKeeper::Work() {
  const auto interval = options_.ttl / 5;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval, [this] { return stopping_ || !drained_.empty(); });
    if (stopping_) break;
    lock.unlock();
    Round(/*leaving=*/false);
    lock.lock();
  }
}

HeldLeases LeaseKeeper::ToHeld(const std::map<int, int64_t>& leases) const {
  HeldLeases out;
  out.shard_count = shard_count_;
  for (const auto& [shard, epoch] : leases) {
    out.shards.push_back(shard);
    out.epochs.push_back(epoch);
  }
  return out;
}

LeaseView LeaseKeeper::View() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<int, int64_t> readable;
  LeaseView view;
  for (const auto& [shard, epoch] : held_) {
    if (draining_.count(shard) > 0) {
      view.draining.push_back(shard);
    } else {
      readable.emplace(shard, epoch);
    }
  }
  view.readable = ToHeld(readable);
  return view;
}

HeldLeases LeaseKeeper::Held() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ToHeld(held_);
}

Status LeaseKeeper::last_round() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_round_;
}

void LeaseKeeper::Drained(const std::vector<int>& shards) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int shard : shards) {
      if (draining_.count(shard) > 0) drained_.insert(shard);
    }
  }
  wake_.notify_all();
}

void LeaseKeeper::Round(bool leaving) {
  const std::string& me = options_.instance_id;
  const std::string ttl_ms = std::to_string(options_.ttl.count());
  // A handover waits this long for the batches in flight; then the shard is
  // released anyway (its rows in flight are sent again by the next holder).
  const auto drain_timeout = options_.ttl / 2;
  std::map<int, int64_t> held;
  std::map<int, Clock::time_point> draining;
  std::set<int> drained;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held = held_;
    draining = draining_;
    drained = drained_;
  }
  LeaseReport report;
  Status round_status = Status::Ok();
  std::vector<int> released, lost;
  std::vector<std::pair<int, std::string>> acquired;  // shard, previous owner
  try {
    if (!session_) {
      session_ = std::make_unique<Session>(dsn_);
      Statements& statements = session_->statements;
      // A round must end well before the leases it renews run out. (Behind
      // a pooler, no session state: see outbox/statements.h.)
      if (!statements.pooled()) {
        pqxx::nontransaction(session_->pq)
            .exec(std::string(kSessionSettingsSql) +
                  "; SET statement_timeout = " + std::to_string(options_.ttl.count() / 2));
      }
      statements.Add("register", kRegisterSql);
      statements.Add("live", kLiveSql);
      statements.Add("legacy_publisher", kLegacyPublisherSql);
      statements.Add("renew", kRenewSql);
      statements.Add("release", kReleaseSql);
      statements.Add("claim", kClaimSql);
    }
    const Statements& statements = session_->statements;
    pqxx::nontransaction tx(session_->pq);
    auto release = [&](const std::vector<int>& shards) {
      std::vector<int64_t> epochs;
      for (int shard : shards) epochs.push_back(held.at(shard));
      statements.Exec(tx, "release", me, NumberArray(shards), NumberArray(epochs));
      for (int shard : shards) {
        held.erase(shard);
        draining.erase(shard);
        released.push_back(shard);
      }
    };
    if (leaving) {
      std::vector<int> all;
      for (const auto& lease : held) all.push_back(lease.first);
      if (!all.empty()) release(all);
      tx.exec_params(kLeaveSql, me);
    } else {
      statements.Exec(tx, "register", me, host_, static_cast<int>(getpid()), ttl_ms);
      std::vector<std::string> live;
      int shard_count = 0;
      for (const pqxx::row& row : statements.Exec(tx, "live")) {
        live.push_back(row[0].as<std::string>());
        shard_count = row[1].as<int>();
      }
      const bool legacy = statements.Exec1(tx, "legacy_publisher")[0].as<bool>();
      if (legacy != legacy_publisher_) {
        if (legacy) {
          LogWarn(
              "a relay from before shard leases publishes (it holds the old outbox lock); "
              "standing by until it stops, so that keys keep one publisher");
        } else {
          LogInfo("no relay from before shard leases publishes any more");
        }
        legacy_publisher_ = legacy;
      }
      if (!held.empty()) {
        const HeldLeases before = ToHeld(held);
        std::set<int> renewed;
        for (const pqxx::row& row : statements.Exec(
                 tx, "renew", me, ttl_ms, NumberArray(before.shards), NumberArray(before.epochs))) {
          renewed.insert(row[0].as<int>());
        }
        for (const int shard : before.shards) {
          if (renewed.count(shard) == 0) {
            lost.push_back(shard);
            held.erase(shard);
            draining.erase(shard);
          }
        }
      }
      std::vector<int> to_release;
      const auto now = Clock::now();
      for (const auto& [shard, since] : draining) {
        if (drained.count(shard) > 0 || now - since >= drain_timeout) to_release.push_back(shard);
      }
      if (!to_release.empty()) release(to_release);
      std::set<int> held_shards, draining_shards;
      for (const auto& lease : held) held_shards.insert(lease.first);
      for (const auto& d : draining) draining_shards.insert(d.first);
      // Beside an old relay this one's share is nothing: it hands over
      // what it holds and claims nothing.
      const LeasePlan plan =
          PlanRound(held_shards, draining_shards, legacy ? 0 : shard_count, live, me);
      for (int shard : plan.stop_drain) draining.erase(shard);
      for (int shard : plan.start_drain) draining.emplace(shard, now);
      if (plan.claim > 0) {
        for (const pqxx::row& row : statements.Exec(tx, "claim", me, ttl_ms, plan.claim)) {
          held[row[0].as<int>()] = row[1].as<int64_t>();
          acquired.emplace_back(row[0].as<int>(), row[2].as<std::string>());
        }
      }
      if (++rounds_ % 300 == 1) tx.exec(kForgetSql);
      report.live_instances = static_cast<int>(live.size());
      std::lock_guard<std::mutex> lock(mutex_);
      shard_count_ = shard_count;
    }
    if (failing_) LogInfo("keeping shard leases works again");
    failing_ = false;
    round_status = Status::Ok();
  } catch (const std::exception& e) {
    session_.reset();
    round_status = StatusOfPqxxError(e);
    if (!failing_) {
      LogWarn("keeping shard leases failed; the leases run out unless renewed in time",
              {{"error", round_status.message()}});
    }
    failing_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held_ = held;
    draining_ = draining;
    last_round_ = round_status;
    for (int shard : drained) drained_.erase(shard);
    for (auto it = drained_.begin(); it != drained_.end();) {
      it = held_.count(*it) > 0 ? std::next(it) : drained_.erase(it);
    }
    report.shard_count = shard_count_;
  }
  if (!acquired.empty()) {
    std::vector<int> shards;
    std::string from;
    for (const auto& [shard, previous] : acquired) {
      shards.push_back(shard);
      if (!previous.empty() && from.find(previous) == std::string::npos) {
        from += (from.empty() ? "" : ",") + previous;
      }
    }
    LogInfo("acquired shards; publishing them", {{"shards", ShardList(shards)},
                                                 {"from", from.empty() ? "-" : from},
                                                 {"holding", held.size()}});
  }
  if (!lost.empty()) {
    LogWarn(
        "lost shards: their lease ran out and another relay claimed them; no longer "
        "reading or removing their rows",
        {{"shards", ShardList(lost)}, {"holding", held.size()}});
  }
  if (!released.empty()) {
    LogInfo("handed shards over", {{"shards", ShardList(released)}, {"holding", held.size()}});
  }
  report.owned = static_cast<int>(held.size());
  report.epochs = held;
  report.acquired = static_cast<int>(acquired.size());
  report.released = static_cast<int>(released.size());
  report.lost = static_cast<int>(lost.size());
  if (on_report_) on_report_(report);
}

}  // namespace outbox
