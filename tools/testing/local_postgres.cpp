#include "local_postgres.hpp"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

namespace llmos::testing {
namespace {

namespace fs = std::filesystem;

/// The newest installed server's programs (Debian: /usr/lib/postgresql/<major>/bin).
std::string server_bin_dir() {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{"/usr/lib/postgresql", ec})
    if (fs::exists(entry.path() / "bin" / "initdb"))
      found.push_back(entry.path() / "bin");
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return std::atoi(a.parent_path().filename().c_str()) <
           std::atoi(b.parent_path().filename().c_str());
  });
  return found.empty() ? std::string{} : found.back().string();
}

/// A loopback port free now (the server binds it a moment later).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string tail_of(const std::string& path) {
  std::ifstream in{path};
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  return text.size() > 800 ? text.substr(text.size() - 800) : text;
}

} // namespace

std::unique_ptr<local_postgres> local_postgres::start(std::string& why) {
  std::unique_ptr<local_postgres> pg{new local_postgres};
  pg->bin_ = server_bin_dir();
  if (pg->bin_.empty()) {
    why = "PostgreSQL's server is not installed (Debian package postgresql; tools/setup)";
    return nullptr;
  }
  std::string templ = (fs::temp_directory_path() / "llmos-pg-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    why = "cannot create a folder under " + fs::temp_directory_path().string();
    return nullptr;
  }
  pg->dir_ = templ;
  pg->as_postgres_ = ::geteuid() == 0;
  if (pg->as_postgres_) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr || ::chown(pg->dir_.c_str(), user->pw_uid, user->pw_gid) != 0) {
      why = "running as root, and there is no user 'postgres' to run the server as";
      return nullptr;
    }
  }
  std::ofstream{pg->password_file()} << "llmos-test-" << ::getpid() << "\n";
  fs::permissions(pg->password_file(), fs::perms::owner_read | fs::perms::owner_write |
                                           fs::perms::group_read | fs::perms::others_read);
  pg->port_ = free_port();
  const auto data = pg->dir_ + "/data";
  if (!pg->run(pg->bin_ + "/initdb -D " + data + " -U llmos --pwfile=" + pg->password_file() +
               " -A scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync") ||
      !pg->run(pg->bin_ + "/pg_ctl -D " + data + " -w -t 60 -l " + pg->dir_ +
               "/server.log -o '-p " + std::to_string(pg->port_) + " -k " + pg->dir_ +
               " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=20' start")) {
    why = "the server did not start: " + tail_of(pg->dir_ + "/log") +
          tail_of(pg->dir_ + "/server.log");
    return nullptr;
  }
  pg->started_ = true;
  return pg;
}

local_postgres::~local_postgres() {
  if (started_)
    run(bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop");
  std::error_code ec;
  if (!dir_.empty())
    fs::remove_all(dir_, ec);
}

bool local_postgres::run(const std::string& command) const {
  const auto line =
      (as_postgres_ ? "runuser -u postgres -- " : "") + command + " >> " + dir_ + "/log 2>&1";
  return std::system(line.c_str()) == 0;
}

std::string local_postgres::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + dbname + " user=llmos";
}

bool local_postgres::exec(const std::string& sql, std::string& why,
                          const std::string& dbname) const {
  std::ifstream in{password_file()};
  std::string password;
  std::getline(in, password);
  const auto info = conninfo(dbname) + " password=" + password;
  PGconn* conn = PQconnectdb(info.c_str());
  bool ok = PQstatus(conn) == CONNECTION_OK;
  if (ok) {
    PGresult* res = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(res);
    ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!ok)
      why = PQresultErrorMessage(res);
    PQclear(res);
  } else {
    why = PQerrorMessage(conn);
  }
  PQfinish(conn);
  return ok;
}

} // namespace llmos::testing
