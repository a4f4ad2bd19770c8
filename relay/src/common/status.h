// One error vocabulary for the relay. Codes say what the caller should do,
// not which library failed (abseil's Status is the model).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace outbox {

enum class StatusCode {
  kOk,
  kUnavailable,         // a dependency is unreachable: back off, retry the call
  kAborted,             // a conflict (deadlock, serialization): retry the batch
  kFailedPrecondition,  // an operator must act (missing table, no privilege)
  kInvalidArgument,     // the input itself is wrong
  kInternal,            // anything else: log with details, back off
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace outbox
