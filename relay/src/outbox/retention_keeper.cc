#include "outbox/retention_keeper.h"

#include <pqxx/pqxx>

#include "common/log.h"
#include "outbox/backlog_queries.h"
#include "outbox/pg_errors.h"
#include "outbox/session_settings.h"
#include "outbox/statements.h"

namespace outbox {
namespace {

// Shared by every relay on this database: one keeper works at a time.
constexpr int64_t kRetentionLockKey = 0x6f7574726574;  // "outret"

// A duration as an SQL interval literal.
std::string Interval(std::chrono::seconds duration) {
  return "interval '" + std::to_string(duration.count()) + " seconds'";
}

// This transaction's turn at retention; false while another relay has it.
bool TryRetentionLock(pqxx::transaction_base& tx) {
  return tx.exec1("SELECT pg_try_advisory_xact_lock(" + std::to_string(kRetentionLockKey) + ")")[0]
      .as<bool>();
}

}  // namespace

struct RetentionKeeper::Session {
  // The relay's session settings (a round that hangs on a lost server must
  // end, or the relay's shutdown would wait for it; no JIT), except behind
  // a pooler, where no session state is kept (see outbox/statements.h).
  explicit Session(const std::string& dsn) : pq(dsn) {
    if (!BehindPooler(pq)) pqxx::nontransaction(pq).exec(kSessionSettingsSql);
  }
  pqxx::connection pq;
};

RetentionKeeper::RetentionKeeper(std::string dsn, RetentionOptions options,
                                 ReportCallback on_report)
    : dsn_(std::move(dsn)), options_(options), on_report_(std::move(on_report)) {}

RetentionKeeper::~RetentionKeeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetentionKeeper::Start() {
  thread_ = std::thread([this] { Work(); });
}

bool RetentionKeeper::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void RetentionKeeper::Work() {
  std::string last_error;
  for (;;) {
    Result<RetentionReport> report = RunRound();
    if (report.ok()) {
      if (on_report_) on_report_(*report);
      const RetentionReport& r = *report;
      if (r.sent_rows_removed + r.dead_letters_removed + r.partitions_dropped +
              r.partitions_created >
          0) {
        LogInfo("retention", {{"sent_rows_removed", r.sent_rows_removed},
                              {"dead_letters_removed", r.dead_letters_removed},
                              {"partitions_dropped", r.partitions_dropped},
                              {"partitions_created", r.partitions_created}});
      }
      last_error.clear();
    } else if (report.status().message() != last_error) {  // once per distinct problem
      last_error = report.status().message();
      LogWarn("retention round failed; nothing pending is affected, retrying",
              {{"error", last_error}});
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, options_.interval, [this] { return stopping_; })) return;
  }
}

int64_t RetentionKeeper::DeleteInBatches(const std::string& table, const std::string& where) {
  // In short transactions: each holds row locks on one batch
  // only, and leaves the rows it could not lock (SKIP LOCKED) for later.
  const std::string sql = "WITH doomed AS (SELECT ctid FROM " + table + " WHERE " + where +
                          " LIMIT " + std::to_string(options_.batch_rows) +
                          " FOR UPDATE SKIP LOCKED) DELETE FROM " + table +
                          " t USING doomed d WHERE t.ctid = d.ctid";
  int64_t removed = 0;
  while (!stopping()) {
    pqxx::work tx(session_->pq);
    if (!TryRetentionLock(tx)) break;  // another relay is at it
    const int64_t batch = tx.exec(sql).affected_rows();
    tx.commit();
    removed += batch;
    if (batch < options_.batch_rows) break;
  }
  return removed;
}

Result<RetentionReport> RetentionKeeper::RunRound() {
  try {
    if (!session_ || !session_->pq.is_open()) session_ = std::make_unique<Session>(dsn_);
    pqxx::connection& pq = session_->pq;
    RetentionReport report;
    const bool partitioned =
        pqxx::nontransaction(pq)
            .exec1("SELECT relkind = 'p' FROM pg_class WHERE oid = 'outbox'::regclass")[0]
            .as<bool>();
    if (partitioned) {
      pqxx::work tx(pq);
      if (TryRetentionLock(tx)) {
        const pqxx::row done =
            tx.exec1("SELECT created, dropped, ahead FROM outbox_relay_maintain_partitions(" +
                     std::to_string(options_.partitions_ahead) + ", " +
                     (options_.sent_retention.count() > 0 ? Interval(options_.sent_retention)
                                                          : std::string("NULL")) +
                     ")");
        tx.commit();
        report.partitions_created = done[0].as<int64_t>();
        report.partitions_dropped = done[1].as<int64_t>();
        report.partitions_ahead = done[2].as<int>();
      }
    }
    if (options_.sent_retention.count() > 0) {
      // A partitioned outbox loses whole partitions above; only rows that
      // fell into its default partition (a day without one) go row by row.
      report.sent_rows_removed =
          DeleteInBatches(partitioned ? "outbox_default" : "outbox",
                          "sent_at < now() - " + Interval(options_.sent_retention));
    }
    if (options_.dead_letter_retention.count() > 0) {
      report.dead_letters_removed =
          DeleteInBatches("outbox_dead_letter", "NOT blocks_key AND dead_lettered_at < now() - " +
                                                    Interval(options_.dead_letter_retention));
    }
    pqxx::nontransaction tx(pq);
    const SentRows sent = CountSentRows(tx);
    report.sent_rows = sent.rows;
    report.sent_rows_is_estimate = sent.is_estimate;
    return report;
  } catch (const pqxx::sql_error& e) {
    const std::string sqlstate = SqlStateOf(e);
    if (ClassifySqlState(sqlstate) == StatusCode::kUnavailable) session_.reset();
    return Status(ClassifySqlState(sqlstate), "SQLSTATE " + sqlstate + ": " + e.what());
  } catch (const std::exception& e) {
    session_.reset();
    return Status(StatusCode::kUnavailable, e.what());
  }
}

}  // namespace outbox
