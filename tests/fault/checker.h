// Compares what the ledger says was committed with what the independent
// consumer read back, in SQL, and produces the figures of FAULTS.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fault/consumer.h"

namespace outbox::fault {

struct Figures {
  int64_t committed = 0;
  int64_t delivered_unique = 0;
  int64_t records = 0;
  int64_t lost = 0;      // gone from the outbox, in neither Kafka nor the dead letters
  int64_t stranded = 0;  // still pending after the drain deadline
  int64_t duplicates = 0;
  int64_t out_of_order = 0;
  int64_t gaps = 0;
  int64_t wrong_partition = 0;
  int64_t integrity_errors = 0;
  int64_t dead_lettered = 0;
  int64_t false_poison = 0;   // healthy rows dead-lettered
  int64_t missed_poison = 0;  // poison rows not dead-lettered
  // Longest time from a healthy row's insert to its first delivery.
  double max_healthy_delay_s = 0;
  std::vector<std::string> examples;  // a few offending rows, for the report
};

Figures Check(const std::string& dsn, const std::vector<Consumed>& records);

}  // namespace outbox::fault
