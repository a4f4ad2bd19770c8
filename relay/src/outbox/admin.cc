#include "outbox/admin.h"

#include <pqxx/pqxx>

#include "outbox/backlog_queries.h"
#include "outbox/pg_errors.h"
#include "outbox/transactions.h"

namespace outbox {
namespace {

// "{1,2,3}" (an int[] as text) -> 1, 2, 3.
std::vector<int> IntList(const std::string& text) {
  std::vector<int> out;
  std::string number;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      number.push_back(c);
    } else if (!number.empty()) {
      out.push_back(std::stoi(number));
      number.clear();
    }
  }
  return out;
}

std::string WhereClause(pqxx::transaction_base& tx, const DeadLetterFilter& f) {
  std::string where = "TRUE";
  if (!f.ids.empty()) {
    std::string list;
    for (int64_t id : f.ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    where += " AND id = ANY('{" + list + "}'::bigint[])";
  }
  if (f.topic) where += " AND topic = " + tx.quote(*f.topic);
  if (f.key) where += " AND key = " + tx.quote(*f.key);
  if (f.reason) where += " AND reason = " + tx.quote(*f.reason);
  if (f.id_from) where += " AND id >= " + std::to_string(*f.id_from);
  if (f.id_to) where += " AND id <= " + std::to_string(*f.id_to);
  if (f.older_than) {
    where += " AND dead_lettered_at < now() - interval '" + std::to_string(f.older_than->count()) +
             " seconds'";
  }
  return where;
}

std::vector<int64_t> IdsOf(const pqxx::result& rows) {
  std::vector<int64_t> ids;
  for (const pqxx::row& row : rows) ids.push_back(row[0].as<int64_t>());
  return ids;
}

const std::string kDeadLetterColumns =
    "id, topic, key, reason, error, attempts, blocks_key, coalesce(octet_length(payload), 0), " +
    IsoColumn("created_at") + ", " + IsoColumn("dead_lettered_at");

DeadLetterRow ReadDeadLetter(const pqxx::row& row) {
  DeadLetterRow d;
  d.id = row[0].as<int64_t>();
  d.topic = row[1].as<std::string>();
  if (!row[2].is_null()) d.key = row[2].as<std::string>();
  d.reason = row[3].as<std::string>();
  d.error = row[4].as<std::string>();
  d.attempts = row[5].as<int>();
  d.blocks_key = row[6].as<bool>();
  d.payload_bytes = row[7].as<int64_t>();
  d.created_at = row[8].as<std::string>();
  d.dead_lettered_at = row[9].as<std::string>();
  return d;
}

}  // namespace

Result<OutboxStatus> OutboxAdmin::ReadStatus() const {
  return WithTransaction(dsn_, [](pqxx::work& tx) -> Result<OutboxStatus> {
    OutboxStatus status;
    status.backlog = QueryBacklog(tx);
    const SentRows sent = CountSentRows(tx);
    status.sent_rows = sent.rows;
    status.sent_rows_is_estimate = sent.is_estimate;
    status.waiting_for_retry =
        tx.exec("SELECT count(*) FROM outbox WHERE next_attempt_at > now()")[0][0].as<int64_t>();
    for (const pqxx::row& row : tx.exec("SELECT reason, count(*) FROM outbox_dead_letter GROUP BY "
                                        "reason ORDER BY 2 DESC, 1")) {
      status.dead_letters_by_reason.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
    }
    status.blocked_keys = tx.exec(
                                "SELECT count(DISTINCT key) FROM outbox_dead_letter "
                                "WHERE blocks_key")[0][0]
                              .as<int64_t>();
    for (const pqxx::row& row : tx.exec("SELECT DISTINCT left(key, 100) FROM outbox_dead_letter "
                                        "WHERE blocks_key ORDER BY 1 LIMIT 10")) {
      status.blocked_key_examples.push_back(row[0].as<std::string>());
    }
    for (const pqxx::row& row : tx.exec(
             "SELECT i.id, i.host, i.pid, " + IsoColumn("i.started_at") +
             ", i.alive_until > now(), coalesce((SELECT array_agg(l.shard ORDER BY l.shard)::text "
             "FROM outbox_relay_lease l WHERE l.owner = i.id AND l.lease_until > now()), '{}') "
             "FROM outbox_relay_instance i ORDER BY i.alive_until > now() DESC, i.id")) {
      RelayInstance& instance = status.instances.emplace_back();
      instance.id = row[0].as<std::string>();
      instance.host = row[1].as<std::string>();
      instance.pid = row[2].as<int>();
      instance.started_at = row[3].as<std::string>();
      instance.alive = row[4].as<bool>();
      instance.shards = IntList(row[5].as<std::string>());
    }
    const pqxx::row shards = tx.exec1(
        "SELECT count(*), coalesce(array_agg(shard ORDER BY shard) FILTER (WHERE owner IS NULL "
        "OR lease_until <= now()), '{}')::text FROM outbox_relay_lease");
    status.shard_count = shards[0].as<int>();
    status.unowned_shards = IntList(shards[1].as<std::string>());
    return status;
  });
}

Result<DeadLetterPage> OutboxAdmin::ListDeadLetters(const DeadLetterFilter& filter,
                                                    int limit) const {
  return WithTransaction(dsn_, [&](pqxx::work& tx) -> Result<DeadLetterPage> {
    DeadLetterPage page;
    // The window counts every match, before the LIMIT.
    for (const pqxx::row& row : tx.exec(
             "SELECT " + kDeadLetterColumns + ", count(*) OVER () FROM outbox_dead_letter " +
             "WHERE " + WhereClause(tx, filter) + " ORDER BY id LIMIT " + std::to_string(limit))) {
      page.rows.push_back(ReadDeadLetter(row));
      page.total = row[10].as<int64_t>();
    }
    return page;
  });
}

Result<std::optional<DeadLetterRow>> OutboxAdmin::ShowDeadLetter(int64_t id) const {
  return WithTransaction(dsn_, [&](pqxx::work& tx) -> Result<std::optional<DeadLetterRow>> {
    const pqxx::result found =
        tx.exec("SELECT " + kDeadLetterColumns + ", payload, coalesce(headers::text, 'null'), " +
                IsoColumn("first_failed_at") + ", " + IsoColumn("last_failed_at") +
                " FROM outbox_dead_letter WHERE id = " + std::to_string(id));
    if (found.empty()) return std::optional<DeadLetterRow>();
    DeadLetterRow d = ReadDeadLetter(found[0]);
    if (!found[0][10].is_null()) d.payload = pqxx::binarystring(found[0][10]).str();
    d.headers_json = found[0][11].as<std::string>();
    d.first_failed_at = found[0][12].as<std::string>();
    d.last_failed_at = found[0][13].as<std::string>();
    return std::optional<DeadLetterRow>(std::move(d));
  });
}

Result<std::vector<int64_t>> OutboxAdmin::RequeueDeadLetters(const DeadLetterFilter& filter,
                                                             bool dry_run) const {
  return WithTransaction(dsn_, [&](pqxx::work& tx) -> Result<std::vector<int64_t>> {
    const std::string where = WhereClause(tx, filter);
    if (dry_run) {
      return IdsOf(tx.exec("SELECT id FROM outbox_dead_letter WHERE " + where + " ORDER BY id"));
    }
    // Rows go back with their ids and per-key numbers: the per-key
    // sequence's trigger (schema/options) leaves them as they are.
    tx.exec("SET LOCAL outbox_relay.requeue = 'on'");
    std::vector<int64_t> ids =
        IdsOf(tx.exec("WITH moved AS (DELETE FROM outbox_dead_letter WHERE " + where +
                      " RETURNING id, topic, key, payload, headers, created_at, key_seq) "
                      "INSERT INTO outbox (id, topic, key, payload, headers, created_at, "
                      "committed_at, key_seq) OVERRIDING SYSTEM VALUE "
                      // Waits again from now (schema/0006): the lag is the
                      // relay's delay since an operator put it back.
                      "SELECT id, topic, key, payload, headers, created_at, now(), key_seq "
                      "FROM moved "
                      "ORDER BY id "
                      "RETURNING id"));
    // Tells relays, in the statement that reads the rows, that low ids are
    // back (schema/0004). After the insert: this transaction has its xid by
    // then, so no relay can have raised its read floor past these rows.
    tx.exec("SELECT nextval('outbox_relay_requeues')");
    return ids;
  });
}

Result<std::vector<int64_t>> OutboxAdmin::PurgeDeadLetters(const DeadLetterFilter& filter,
                                                           bool dry_run) const {
  return WithTransaction(dsn_, [&](pqxx::work& tx) -> Result<std::vector<int64_t>> {
    const std::string where = WhereClause(tx, filter);
    if (dry_run) {
      return IdsOf(tx.exec("SELECT id FROM outbox_dead_letter WHERE " + where + " ORDER BY id"));
    }
    return IdsOf(tx.exec("DELETE FROM outbox_dead_letter WHERE " + where + " RETURNING id"));
  });
}

}  // namespace outbox
