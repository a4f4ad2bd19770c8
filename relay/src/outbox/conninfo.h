// libpq connection strings read with libpq's own parser (PQconninfoParse):
// whether one parses, how to show it without its secrets, and which values
// are secrets. Never by patterns: libpq knows its URI and keyword forms,
// quoting and percent-encoding, and which options are passwords.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace outbox {

// Why libpq cannot parse `dsn`, without quoting any part of it (libpq's own
// message may quote the very fragment that holds the password); nullopt if
// it parses.
std::optional<std::string> ConninfoProblem(const std::string& dsn);

// `dsn` as keyword=value pairs with every password option (password,
// sslpassword: those libpq marks for hiding) shown as ***. A DSN that does
// not parse is not shown at all.
std::string RedactedConninfo(const std::string& dsn);

// The values of the password options in `dsn`, as libpq decodes them and
// as they may be written in a URI (percent-encoded).
std::vector<std::string> ConninfoSecrets(const std::string& dsn);

// The libpq the relay runs with (PQlibVersion, e.g. "15.10"), for --version.
std::string LibpqVersion();

}  // namespace outbox
