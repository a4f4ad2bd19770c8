// The lowest id a batch read needs to look at.
//
// Deleted rows leave dead entries at the head of the primary key until
// VACUUM removes them (autovacuum looks at most once a minute). A read that
// starts from the lowest possible id walks them all: after a million-row
// drain that is ~10 ms per read instead of ~0.5 ms. The floor lets reads
// start at the lowest live id instead, without ever skipping a row:
//
// A row below the lowest live id L seen by a snapshot can only appear later
// if a transaction running at that snapshot inserted it (ids are taken from
// the sequence at insert, so later transactions get higher ids). Once every
// such transaction has ended (the snapshot xmin has passed that snapshot's
// xmax), every row below L that will ever exist is visible, so the floor may
// rise to L, or to the lowest live id now if that is lower.
//
// One gap remains: an INSERT takes its id from the sequence a moment before
// its transaction gets an xid (when the outbox row is its first write), so a
// snapshot in between sees neither. A candidate is therefore also kept for
// kMinAge before it may raise the floor; an insert stalled longer than that
// between the two is caught by the periodic Reset().
//
// Rows put back with their original id (dead-letter requeue) can land below
// the floor: Reset() drops it (on the requeue notification, and
// periodically as a safety net).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace outbox {

class ReadFloor {
 public:
  // What one statement saw: its snapshot's xmin and xmax, and the lowest id
  // at or above floor() it could see (nullopt: none).
  struct Observation {
    int64_t xmin = 0;
    int64_t xmax = 0;
    std::optional<int64_t> lowest_live;
  };

  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kMinAge{1};

  int64_t floor() const { return floor_; }
  void Observe(const Observation& seen, Clock::time_point now = Clock::now());
  void Reset();

 private:
  struct Candidate {
    int64_t lowest_live;
    int64_t xmax;  // safe once every transaction below it has ended
    Clock::time_point seen_at;
  };
  static constexpr size_t kMaxCandidates = 64;

  int64_t floor_ = 0;
  std::deque<Candidate> candidates_;
};

}  // namespace outbox
