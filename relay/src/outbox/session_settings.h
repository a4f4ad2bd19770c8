// Settings for every session the relay holds on PostgreSQL.
#pragma once

namespace outbox {

// A statement that hangs (lock wait, lost server) must not wedge the relay;
// its statements are index lookups that take milliseconds. The server side
// of keepalives: a session whose relay vanished (a network partition) ends
// within ~15 s instead of lingering for the kernel's two hours. Ignored on
// Unix sockets.
inline constexpr const char* kSessionSettingsSql =
    "SET statement_timeout = '30s'; SET lock_timeout = '10s'; "
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
    "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 15000";

}  // namespace outbox
