// Settings for every session the relay holds on PostgreSQL.
#pragma once

namespace outbox {

// A statement that hangs (lock wait, lost server) must not wedge the relay;
// its statements are index lookups that take milliseconds. The server side
// of keepalives: a session whose relay vanished (a network partition) ends
// within ~15 s instead of lingering for the kernel's two hours. Ignored on
// Unix sockets.
//
// No JIT: the relay's statements are short, and once their estimated cost
// passed jit_above_cost (a large backlog, a batch of 2,000, or any seq scan
// with enable_seqscan off) each run compiled itself with LLVM first: a
// 2,000-row read took 60 ms instead of 7, with seq scans off 600 ms instead
// of 2 (measured with outbox-bench explain and perf).
inline constexpr const char* kSessionSettingsSql =
    "SET statement_timeout = '30s'; SET lock_timeout = '10s'; SET jit = off; "
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
    "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 15000";

}  // namespace outbox
