// Building SQL text and parameter values: PostgreSQL array literals (for the
// unnest() and ANY() parameters) and placeholder substitution.
#pragma once

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
