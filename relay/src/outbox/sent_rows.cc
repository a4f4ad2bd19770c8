#include "outbox/sent_rows.h"

#include <pqxx/pqxx>

#include "outbox/transactions.h"

namespace outbox {
namespace {

constexpr int kPageRows = 10000;

std::string WindowSql(pqxx::transaction_base& tx, const SentWindow& w) {
  std::string sql = "topic = " + tx.quote(w.topic) +
                    " AND sent_at IS NOT NULL AND sent_at <= " + tx.quote(w.until) +
                    "::timestamptz";
  if (!w.since.empty()) sql += " AND sent_at >= " + tx.quote(w.since) + "::timestamptz";
  return sql;
}

}  // namespace

struct PgSentRows::Session {
  explicit Session(const std::string& dsn) : pq(dsn) {}
  pqxx::connection pq;
};

PgSentRows::PgSentRows(std::string dsn, SentWindow window) : window_(std::move(window)) {
  try {
    session_ = std::make_unique<Session>(dsn);
  } catch (const std::exception& e) {
    status_ = FromException(e);
    exhausted_ = true;
  }
}

PgSentRows::~PgSentRows() = default;

void PgSentRows::FetchPage() {
  try {
    pqxx::read_transaction tx(session_->pq);
    const std::string window = WindowSql(tx, window_);
    if (!unrecorded_done_) {
      // Marked sent without a position (first, as the ledger expects).
      unrecorded_done_ = true;
      for (const pqxx::row& row : tx.exec("SELECT id FROM outbox WHERE " + window +
                                          " AND (sent_partition IS NULL OR sent_offset IS NULL)"
                                          " ORDER BY id")) {
        page_.push_back({row[0].as<int64_t>(), std::nullopt, std::nullopt});
      }
      if (!page_.empty()) return;
    }
    const pqxx::result rows =
        tx.exec("SELECT id, sent_partition, sent_offset FROM outbox WHERE " + window +
                " AND sent_partition IS NOT NULL AND sent_offset IS NOT NULL"
                " AND (sent_partition, sent_offset) > (" +
                std::to_string(after_partition_) + ", " + std::to_string(after_offset_) +
                ") ORDER BY sent_partition, sent_offset LIMIT " + std::to_string(kPageRows));
    for (const pqxx::row& row : rows) {
      page_.push_back({row[0].as<int64_t>(), row[1].as<int32_t>(), row[2].as<int64_t>()});
    }
    if (rows.size() < static_cast<size_t>(kPageRows)) exhausted_ = true;
    if (!page_.empty()) {
      after_partition_ = *page_.back().partition;
      after_offset_ = *page_.back().offset;
    }
  } catch (const std::exception& e) {
    status_ = FromException(e);
    exhausted_ = true;
  }
}

std::optional<SentRowRecord> PgSentRows::Next() {
  while (page_.empty() && !exhausted_) FetchPage();
  if (page_.empty()) return std::nullopt;
  SentRowRecord row = page_.front();
  page_.pop_front();
  return row;
}

Result<std::string> PgSentRows::Now(const std::string& dsn) {
  return WithTransaction(dsn, [](pqxx::work& tx) -> Result<std::string> {
    return tx.exec1("SELECT now()::text")[0].as<std::string>();
  });
}

Result<std::string> PgSentRows::Shift(const std::string& dsn, const std::string& timestamp,
                                      int64_t seconds) {
  return WithTransaction(dsn, [&](pqxx::work& tx) -> Result<std::string> {
    return tx
        .exec1("SELECT (" + tx.quote(timestamp) + "::timestamptz + " + std::to_string(seconds) +
               " * interval '1 second')::text")[0]
        .as<std::string>();
  });
}

Result<int64_t> PgSentRows::EpochMillis(const std::string& dsn, const std::string& timestamp) {
  return WithTransaction(dsn, [&](pqxx::work& tx) -> Result<int64_t> {
    return tx
        .exec1("SELECT (extract(epoch FROM " + tx.quote(timestamp) +
               "::timestamptz) * 1000)::bigint")[0]
        .as<int64_t>();
  });
}

Result<bool> PgSentRows::AnySent(const std::string& dsn) {
  return WithTransaction(dsn, [](pqxx::work& tx) -> Result<bool> {
    return tx.exec1("SELECT EXISTS (SELECT 1 FROM outbox WHERE sent_at IS NOT NULL)")[0].as<bool>();
  });
}

Result<std::vector<std::pair<int32_t, int64_t>>> PgSentRows::LowestOffsets(
    const std::string& dsn, const SentWindow& window) {
  return WithTransaction(
      dsn, [&](pqxx::work& tx) -> Result<std::vector<std::pair<int32_t, int64_t>>> {
        std::vector<std::pair<int32_t, int64_t>> out;
        for (const pqxx::row& row : tx.exec(
                 "SELECT sent_partition, min(sent_offset) FROM outbox WHERE " +
                 WindowSql(tx, window) + " AND sent_partition IS NOT NULL GROUP BY 1 ORDER BY 1")) {
          out.emplace_back(row[0].as<int32_t>(), row[1].as<int64_t>());
        }
        return out;
      });
}

}  // namespace outbox
