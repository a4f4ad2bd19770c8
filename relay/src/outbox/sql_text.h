// Building SQL text and parameter values: PostgreSQL array literals (for the
// unnest() and ANY() parameters) and placeholder substitution.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace outbox {

// {a,b,c}: each item as `format` renders it.
template <typename T, typename Format>
std::string ArrayLiteral(const std::vector<T>& items, Format format) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += format(items[i]);
  }
  out.push_back('}');
  return out;
}

// {1,2,3}
template <typename T>
std::string NumberArray(const std::vector<T>& numbers) {
  return ArrayLiteral(numbers, [](T n) { return std::to_string(n); });
}

// {[1,3],[7,7]}: an int8multirange of the runs of consecutive numbers in
// `sorted` (ascending, no duplicates), so it holds exactly those numbers and
// stays short however many there are in a run.
inline std::string RunsMultirange(const std::vector<int64_t>& sorted) {
  std::string out = "{";
  for (size_t i = 0; i < sorted.size();) {
    size_t last = i;
    while (last + 1 < sorted.size() && sorted[last + 1] == sorted[last] + 1) ++last;
    if (i > 0) out.push_back(',');
    out += "[" + std::to_string(sorted[i]) + "," + std::to_string(sorted[last]) + "]";
    i = last + 1;
  }
  out.push_back('}');
  return out;
}

// A text array element, quoted and escaped.
inline std::string QuotedElement(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// `text` with every `from` replaced by `to`.
inline std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace outbox
