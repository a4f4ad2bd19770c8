#include "outbox/statements.h"

namespace outbox {

bool BehindPooler(pqxx::connection& connection) {
  const int server_pid =
      pqxx::nontransaction(connection).exec1("SELECT pg_backend_pid()")[0].as<int>();
  return server_pid != connection.backendpid();
}

}  // namespace outbox
