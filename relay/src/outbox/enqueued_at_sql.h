// When an outbox row entered the queue, as SQL: the one definition behind
// the delivery-lag gauge, the latency histogram and the retry write-back.
#pragma once

#include <string>

namespace outbox {

// `row` is the table alias, `xmin` the expression for the xmin of the row's
// inserting version. committed_at is set by the relay on the first retry
// (schema/0006), since that UPDATE replaces the version whose commit time
// the age was read from; before it, the commit time (track_commit_timestamp)
// or created_at.
inline std::string EnqueuedAtSql(const std::string& row, const std::string& xmin) {
  return "coalesce(" + row +
         ".committed_at, CASE WHEN current_setting('track_commit_timestamp') "
         "= 'on' THEN pg_xact_commit_timestamp(" +
         xmin + ") END, " + row + ".created_at)";
}

}  // namespace outbox
