#include "outbox/trace.h"

#include <pqxx/pqxx>

#include "outbox/sql_text.h"
#include "outbox/transactions.h"

namespace outbox {
namespace {

// Both tables in one shape: state, topic, key, key_seq, created_at,
// attempts, last_error, next attempt in s, sent_at, partition, offset,
// reason, error, dead_lettered_at, blocks_key, id. @WHERE@ picks the rows.
const std::string kTraceSql =
    "SELECT CASE WHEN o.sent_at IS NULL THEN 'pending' ELSE 'sent' END, o.topic, o.key, "
    "o.key_seq, " +
    IsoColumn("o.created_at") + ", o.attempts, o.last_error, " +
    "extract(epoch FROM o.next_attempt_at - now())::float8, " + IsoColumn("o.sent_at") +
    ", o.sent_partition, o.sent_offset, NULL, NULL, NULL, false, o.id "
    "FROM outbox o WHERE @WHERE@ "
    "UNION ALL "
    "SELECT 'dead_lettered', d.topic, d.key, d.key_seq, " +
    IsoColumn("d.created_at") + ", d.attempts, NULL, NULL, NULL, NULL, NULL, d.reason, d.error, " +
    IsoColumn("d.dead_lettered_at") + ", d.blocks_key, d.id FROM outbox_dead_letter d WHERE " +
    "@DWHERE@ ";

// kTraceSql picking, in both tables, the rows `where(alias)` matches.
template <typename Where>
std::string TraceSql(const Where& where) {
  return ReplaceAll(ReplaceAll(kTraceSql, "@WHERE@", where("o")), "@DWHERE@", where("d"));
}

TracedRow ReadTraced(const pqxx::row& row) {
  TracedRow t;
  const std::string state = row[0].as<std::string>();
  t.state = state == "pending" ? RowState::kPending
            : state == "sent"  ? RowState::kSent
                               : RowState::kDeadLettered;
  t.topic = row[1].as<std::string>();
  if (!row[2].is_null()) t.key = row[2].as<std::string>();
  if (!row[3].is_null()) t.key_seq = row[3].as<int64_t>();
  t.created_at = row[4].as<std::string>();
  t.attempts = row[5].as<int>();
  if (!row[6].is_null()) t.last_error = row[6].as<std::string>();
  if (!row[7].is_null()) t.next_attempt_in_seconds = row[7].as<double>();
  if (!row[8].is_null()) t.sent_at = row[8].as<std::string>();
  if (!row[9].is_null()) t.partition = row[9].as<int32_t>();
  if (!row[10].is_null()) t.offset = row[10].as<int64_t>();
  if (!row[11].is_null()) t.reason = row[11].as<std::string>();
  if (!row[12].is_null()) t.error = row[12].as<std::string>();
  if (!row[13].is_null()) t.dead_lettered_at = row[13].as<std::string>();
  t.blocks_key = row[14].as<bool>();
  t.id = row[15].as<int64_t>();
  return t;
}

// The highest id the outbox's identity sequence has handed out (0: none);
// nullopt when this role may not read the sequence.
std::optional<int64_t> HighestId(pqxx::transaction_base& tx) {
  const pqxx::row seq = tx.exec1(
      "SELECT has_sequence_privilege(s, 'SELECT') OR has_sequence_privilege(s, 'USAGE'), "
      "       CASE WHEN has_sequence_privilege(s, 'SELECT') "
      "              OR has_sequence_privilege(s, 'USAGE') "
      "            THEN coalesce(pg_sequence_last_value(s), 0) END "
      "  FROM (SELECT pg_get_serial_sequence('outbox', 'id')::regclass AS s) q");
  if (!seq[0].as<bool>()) return std::nullopt;
  return seq[1].as<int64_t>();
}

}  // namespace

const char* RowStateName(RowState state) {
  switch (state) {
    case RowState::kPending:
      return "pending";
    case RowState::kSent:
      return "sent";
    case RowState::kDeadLettered:
      return "dead_lettered";
    case RowState::kGone:
      return "gone";
    case RowState::kNotYet:
      return "not_yet";
  }
  return "gone";
}

Result<TracedRow> TraceId(const std::string& dsn, int64_t id) {
  return WithTransaction(dsn, [&](pqxx::work& tx) -> Result<TracedRow> {
    const pqxx::result rows = tx.exec(
        TraceSql([&](const std::string& alias) { return alias + ".id = " + std::to_string(id); }));
    if (!rows.empty()) return ReadTraced(rows[0]);
    TracedRow gone;
    gone.id = id;
    gone.highest_id = HighestId(tx);
    gone.state = gone.highest_id && id > *gone.highest_id ? RowState::kNotYet : RowState::kGone;
    return gone;
  });
}

Result<std::vector<TracedRow>> TraceKey(const std::string& dsn, const std::string& key, int limit) {
  return WithTransaction(dsn, [&](pqxx::work& tx) -> Result<std::vector<TracedRow>> {
    const std::string quoted = tx.quote(key);
    // The hash first: an index on it (schema/0006 has a partial one for
    // dead letters) makes this a probe; the key itself rules out collisions.
    auto match = [&](const std::string& alias) {
      return "hashtextextended(" + alias + ".key, 0) = hashtextextended(" + quoted + ", 0) AND " +
             alias + ".key = " + quoted;
    };
    const pqxx::result rows =
        tx.exec(TraceSql(match) + "ORDER BY 16 DESC LIMIT " + std::to_string(limit));
    std::vector<TracedRow> out;
    for (const pqxx::row& row : rows) out.push_back(ReadTraced(row));
    return out;
  });
}

}  // namespace outbox
