#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace outbox {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {metric}};
}

std::optional<std::string> FirstLine(const char* path) {
  std::ifstream file(path);
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  return line;
}

// The kernel's boot time (btime in /proc/stat), in Unix seconds.
std::optional<double> BootTime() {
  std::ifstream file("/proc/stat");
  std::string word;
  while (file >> word) {
    if (word == "btime") {
      double seconds = 0;
      if (file >> seconds) return seconds;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<double> OpenFds() {
  std::error_code error;
  std::filesystem::directory_iterator it("/proc/self/fd", error);
  if (error) return std::nullopt;
  double count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return std::nullopt;
    ++count;
  }
  return count - 1;  // the iterator's own descriptor
}

}  // namespace

bool ParseProcStat(const std::string& line, long ticks_per_second, long page_bytes, ProcStat* out) {
  // "pid (comm) state ...": comm may hold spaces and parentheses, so the
  // fields start after the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos || ticks_per_second <= 0) return false;
  std::istringstream fields(line.substr(close + 1));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22,
  // vsize 23, rss 24.
  if (f.size() < 22) return false;
  try {
    const double ticks = static_cast<double>(ticks_per_second);
    out->cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
    out->start_seconds_after_boot = std::stod(f[19]) / ticks;
    out->virtual_bytes = std::stod(f[20]);
    out->resident_bytes = std::stod(f[21]) * static_cast<double>(page_bytes);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

std::vector<prometheus::MetricFamily> CollectProcessMetrics() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  ProcStat stat;
  const std::optional<std::string> line = FirstLine("/proc/self/stat");
  if (line && ParseProcStat(*line, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), &stat)) {
    out.push_back(Family("process_cpu_seconds_total", "Total user and system CPU time spent.",
                         MetricType::Counter, stat.cpu_seconds));
    out.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                         MetricType::Gauge, stat.resident_bytes));
    out.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                         MetricType::Gauge, stat.virtual_bytes));
    if (const std::optional<double> boot = BootTime()) {
      out.push_back(Family("process_start_time_seconds",
                           "Start time of the process since the Unix epoch, in seconds.",
                           MetricType::Gauge, *boot + stat.start_seconds_after_boot));
    }
  }
  if (const std::optional<double> fds = OpenFds()) {
    out.push_back(Family("process_open_fds", "Open file descriptors.", MetricType::Gauge, *fds));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    out.push_back(Family("process_max_fds", "Limit on open file descriptors.", MetricType::Gauge,
                         static_cast<double>(limit.rlim_cur)));
  }
  return out;
}

}  // namespace outbox
