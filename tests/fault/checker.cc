#include "fault/checker.h"

#include <chrono>
#include <pqxx/pqxx>

namespace outbox::fault {
namespace {

int64_t Count(pqxx::work& tx, const std::string& sql) { return tx.exec(sql)[0][0].as<int64_t>(); }

void Load(pqxx::work& tx, const std::vector<Consumed>& records) {
  for (size_t start = 0; start < records.size(); start += 500) {
    std::string sql =
        "INSERT INTO fault_consumed (partition, \"offset\", outbox_id, key, key_seq, "
        "payload_md5, received_at) VALUES ";
    for (size_t i = start; i < std::min(records.size(), start + 500); ++i) {
      const Consumed& c = records[i];
      if (i > start) sql += ",";
      sql +=
          "(" + std::to_string(c.partition) + "," + std::to_string(c.offset) + "," +
          std::to_string(c.outbox_id) + "," + (c.key ? tx.quote(*c.key) : "NULL") + "," +
          std::to_string(c.key_seq) + ",md5(" + tx.quote_raw(c.payload) + ")," + "to_timestamp(" +
          std::to_string(std::chrono::duration<double>(c.received_at.time_since_epoch()).count()) +
          "))";
    }
    tx.exec(sql);
  }
}

}  // namespace

Figures Check(const std::string& dsn, const std::vector<Consumed>& records) {
  pqxx::connection connection(dsn);
  pqxx::work tx(connection);
  tx.exec("TRUNCATE fault_consumed");
  Load(tx, records);
  Figures f;
  f.committed = Count(tx, "SELECT count(*) FROM fault_ledger");
  f.records = Count(tx, "SELECT count(*) FROM fault_consumed");
  f.delivered_unique = Count(tx,
                             "SELECT count(DISTINCT c.outbox_id) FROM fault_consumed c "
                             "JOIN fault_ledger l ON l.outbox_id = c.outbox_id");
  f.duplicates = f.records - Count(tx, "SELECT count(DISTINCT outbox_id) FROM fault_consumed");
  const std::string delivered =
      "EXISTS (SELECT 1 FROM fault_consumed c WHERE c.outbox_id = l.outbox_id)";
  // Marked sent (relay.on_ack: mark_sent) is not pending: such a row must
  // be in Kafka like a deleted one.
  const std::string pending =
      "EXISTS (SELECT 1 FROM outbox o WHERE o.id = l.outbox_id AND o.sent_at IS NULL)";
  const std::string dead = "EXISTS (SELECT 1 FROM outbox_dead_letter d WHERE d.id = l.outbox_id)";
  f.lost = Count(tx, "SELECT count(*) FROM fault_ledger l WHERE NOT " + delivered + " AND NOT " +
                         pending + " AND NOT " + dead);
  f.stranded = Count(tx, "SELECT count(*) FROM fault_ledger l WHERE " + pending);
  f.dead_lettered = Count(tx, "SELECT count(*) FROM fault_ledger l WHERE " + dead);
  f.false_poison = Count(tx, "SELECT count(*) FROM fault_ledger l WHERE NOT poison AND " + dead);
  f.missed_poison = Count(tx, "SELECT count(*) FROM fault_ledger l WHERE poison AND NOT " + dead);
  f.integrity_errors = Count(tx,
                             "SELECT count(*) FROM fault_consumed c LEFT JOIN fault_ledger l "
                             "ON l.outbox_id = c.outbox_id WHERE l.outbox_id IS NULL "
                             "OR c.key IS DISTINCT FROM l.key OR c.key_seq <> l.key_seq "
                             "OR c.payload_md5 <> l.payload_md5");
  f.wrong_partition = Count(tx,
                            "SELECT count(*) FROM (SELECT key FROM fault_consumed "
                            "WHERE key IS NOT NULL GROUP BY key "
                            "HAVING count(DISTINCT partition) > 1) k");
  // Per key, in the order first seen (offsets are comparable: one partition
  // per key), a key_seq below one seen before it.
  f.out_of_order = Count(tx, R"(
    WITH first AS (SELECT key, key_seq, min("offset") AS first_offset
                     FROM fault_consumed WHERE key IS NOT NULL GROUP BY key, key_seq),
    running AS (SELECT key_seq, max(key_seq) OVER (PARTITION BY key ORDER BY first_offset
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS highest_before
                  FROM first)
    SELECT count(*) FROM running WHERE key_seq < highest_before)");
  f.gaps = Count(tx, R"(
    WITH highest AS (SELECT key, max(key_seq) AS key_seq FROM fault_consumed GROUP BY key)
    SELECT count(*) FROM fault_ledger l JOIN highest h ON h.key = l.key
     WHERE l.key_seq < h.key_seq
       AND NOT EXISTS (SELECT 1 FROM fault_consumed c WHERE c.outbox_id = l.outbox_id)
       AND NOT EXISTS (SELECT 1 FROM outbox_dead_letter d WHERE d.id = l.outbox_id))");
  f.max_healthy_delay_s = tx.exec(R"(
    SELECT coalesce(max(extract(epoch FROM first_received - l.written_at)), 0)::float8
      FROM fault_ledger l
      JOIN (SELECT outbox_id, min(received_at) AS first_received FROM fault_consumed
             GROUP BY outbox_id) c ON c.outbox_id = l.outbox_id
     WHERE NOT l.poison)")[0][0]
                              .as<double>();
  for (const pqxx::row& row : tx.exec(R"(
    WITH first AS (SELECT key, key_seq, min("offset") AS first_offset
                     FROM fault_consumed WHERE key IS NOT NULL GROUP BY key, key_seq),
    running AS (SELECT key, key_seq, max(key_seq) OVER (PARTITION BY key ORDER BY first_offset
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS highest_before
                  FROM first)
    SELECT 'out of order: key ' || key || ' seq ' || key_seq || ' first seen after seq ' ||
           highest_before FROM running WHERE key_seq < highest_before LIMIT 5)")) {
    f.examples.push_back(row[0].as<std::string>());
  }
  for (const pqxx::row& row :
       tx.exec("SELECT 'lost id ' || outbox_id || ' key ' || key || ' seq ' || key_seq "
               "FROM fault_ledger l WHERE NOT " +
               delivered + " AND NOT " + pending + " AND NOT " + dead +
               " ORDER BY outbox_id LIMIT 5")) {
    f.examples.push_back(row[0].as<std::string>());
  }
  tx.commit();
  return f;
}

}  // namespace outbox::fault
