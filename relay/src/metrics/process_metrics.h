// The standard process_* families (as every Prometheus client library names
// them), read from /proc/self at each scrape: prometheus-cpp has none.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace outbox {

// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds,
// process_open_fds and process_max_fds. A value /proc does not give (another
// kernel, a sandbox hiding /proc) is left out rather than reported as 0.
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

// Exposed for tests: the fields of /proc/self/stat after the command name.
struct ProcStat {
  double cpu_seconds = 0;
  double start_seconds_after_boot = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};
// Parses a /proc/PID/stat line; false if it is not one.
bool ParseProcStat(const std::string& line, long ticks_per_second, long page_bytes, ProcStat* out);

}  // namespace outbox
