// A throwaway PostgreSQL server for the postgres source's tests and `llmos-bench data`: a fresh
// cluster (initdb) in a folder under the temp folder, listening on a free loopback port only,
// with one superuser `llmos` whose password lives in a file (password authentication, as a real
// server is reached). Run as root, the server's programs run as the `postgres` user (PostgreSQL
// refuses root). Stopped and removed with the object.
#pragma once

#include <memory>
#include <string>

namespace llmos::testing {

class local_postgres {
public:
  /// Starts a server; null with `why` set when PostgreSQL is not installed (Debian postgresql)
  /// or does not start.
  static std::unique_ptr<local_postgres> start(std::string& why);
  ~local_postgres();
  local_postgres(const local_postgres&) = delete;
  local_postgres& operator=(const local_postgres&) = delete;

  /// A libpq connection string for `dbname`, without the password.
  std::string conninfo(const std::string& dbname = "postgres") const;
  /// A file holding the password of user llmos.
  std::string password_file() const { return dir_ + "/password"; }
  /// The server's programs (psql is there).
  const std::string& bin_dir() const { return bin_; }
  int port() const { return port_; }

  /// Runs `sql` (one or more statements) in `dbname`; false with `why` on failure.
  bool exec(const std::string& sql, std::string& why, const std::string& dbname = "postgres") const;

private:
  local_postgres() = default;
  /// `command` as the server's user, output appended to the folder's log; true on success.
  bool run(const std::string& command) const;

  std::string dir_, bin_;
  int port_ = 0;
  bool as_postgres_ = false;
  bool started_ = false;
};

} // namespace llmos::testing
