#include "dataset/readers/postgres_reader.hpp"

#include "dataset/readers/reader_options.hpp"

#ifdef LLMOS_WITH_POSTGRES

#include <libpq-fe.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "dataset/readers/sql_rows.hpp"

namespace llmos::dataset {
namespace {

using conn_ptr = std::unique_ptr<PGconn, decltype(&::PQfinish)>;
using result_ptr = std::unique_ptr<PGresult, decltype(&::PQclear)>;

constexpr int fetch_rows = 2000;

/// libpq's messages end in a newline.
std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

/// Whether the connection string holds a password (or cannot be parsed: `why` says so).
bool holds_password(const std::string& conninfo, std::string& why) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &err);
  if (options == nullptr) {
    why = trimmed(err);
    PQfreemem(err);
    return true;
  }
  bool found = false;
  for (auto* o = options; o->keyword != nullptr; ++o)
    found |= std::string_view{o->keyword} == "password" && o->val != nullptr && *o->val != '\0';
  PQconninfoFree(options);
  return found;
}

/// One postgres source being read: the connection, a READ ONLY transaction, a server-side
/// cursor over the statement, then the rows in batches.
class postgres_source {
public:
  postgres_source(const source_spec& spec, quarantine& q) : spec_(spec), rows_(spec, q) {}

  caf::error connect() {
    if (std::string why; holds_password(spec_.path, why))
      return reader_error(error_code::bad_config, spec_, "the connection string",
                          why.empty() ? "it holds a password, and the pipeline file is kept "
                                        "in every version's manifest: put the password in a "
                                        "file named by the option password_file, or in "
                                        "PGPASSWORD or ~/.pgpass"
                                      : "it cannot be read: " + why);
    std::vector<const char*> keys{"dbname", "client_encoding", "application_name",
                                  "connect_timeout"};
    std::vector<const char*> values{spec_.path.c_str(), "UTF8", "llmos", nullptr};
    const auto timeout = uint_option(spec_, "connect_timeout", 10);
    if (!timeout)
      return timeout.error();
    const auto timeout_text = std::to_string(*timeout);
    values[3] = timeout_text.c_str();
    auto password = read_password();
    if (!password)
      return password.error();
    if (!password->empty()) {
      keys.push_back("password");
      values.push_back(password->c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_.reset(PQconnectdbParams(keys.data(), values.data(), 1));
    if (conn_ == nullptr || PQstatus(conn_.get()) != CONNECTION_OK)
      return reader_error(error_code::io_failed, spec_, spec_.path,
                          "cannot connect: " +
                              (conn_ ? trimmed(PQerrorMessage(conn_.get())) : "out of memory"));
    return {};
  }

  /// Opens the cursor over the statement inside a READ ONLY transaction.
  caf::error open_cursor(const sql_statement& statement) {
    if (auto begun = exec("BEGIN READ ONLY", nullptr); !begun)
      return begun.error();
    const char* after = statement.has_parameter ? spec_.cursor->after.c_str() : nullptr;
    auto declared = exec("DECLARE llmos_rows NO SCROLL CURSOR FOR " + statement.text, after);
    if (!declared)
      return declared.error();
    return {};
  }

  caf::expected<uint64_t> read_rows(uint64_t limit, const emit_fn& emit) {
    uint64_t emitted = 0;
    bool mapped = false;
    std::vector<std::optional<std::string>> row;
    while (!limit_reached(limit, emitted)) {
      auto batch = exec("FETCH " + std::to_string(fetch_rows) + " FROM llmos_rows", nullptr);
      if (!batch)
        return batch.error();
      PGresult* res = batch->get();
      if (!mapped) {
        std::vector<std::string> names;
        for (int c = 0; c < PQnfields(res); ++c)
          names.emplace_back(PQfname(res, c));
        if (auto err = rows_.map_columns(std::move(names)))
          return err;
        mapped = true;
      }
      const int n = PQntuples(res);
      for (int i = 0; i < n && !limit_reached(limit, emitted); ++i) {
        row.clear();
        for (int c = 0; c < PQnfields(res); ++c)
          row.push_back(
              PQgetisnull(res, i, c) != 0
                  ? std::nullopt
                  : std::optional<std::string>{std::in_place, PQgetvalue(res, i, c),
                                               static_cast<std::size_t>(PQgetlength(res, i, c))});
        record r;
        if (!rows_.take_row(row, r))
          continue;
        ++emitted;
        emit(std::move(r));
      }
      if (n < fetch_rows)
        break;
    }
    return emitted;
  }

private:
  /// The password from the option password_file ("" without it: libpq's environment then).
  caf::expected<std::string> read_password() const {
    auto file = find_option(spec_, "password_file");
    if (!file)
      return std::string{};
    std::ifstream in{*file, std::ios::binary};
    std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
      text.pop_back();
    if (!in.good() && !in.eof())
      return reader_error(error_code::io_failed, spec_, *file,
                          "option 'password_file': the file cannot be read");
    if (text.empty())
      return reader_error(error_code::bad_config, spec_, *file,
                          "option 'password_file': the file is missing or empty");
    return text;
  }

  /// Runs `sql` (with `param` as $1 when given); an error names the query for a statement
  /// the server refused, the rows read so far for a failed fetch.
  caf::expected<result_ptr> exec(const std::string& sql, const char* param) {
    result_ptr res{PQexecParams(conn_.get(), sql.c_str(), param != nullptr ? 1 : 0, nullptr,
                                param != nullptr ? &param : nullptr, nullptr, nullptr, 0),
                   &::PQclear};
    const auto status = PQresultStatus(res.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
      return res;
    const auto message = trimmed(res ? PQresultErrorMessage(res.get()) : "out of memory");
    if (rows_.rows() == 0 && sql.rfind("DECLARE", 0) == 0)
      return reader_error(error_code::bad_config, spec_, spec_.path,
                          "option 'query': " + message + "; write one SELECT statement");
    return reader_error(error_code::io_failed, spec_, spec_.path,
                        "the query failed after " + std::to_string(rows_.rows()) +
                            " rows: " + message);
  }

  const source_spec& spec_;
  conn_ptr conn_{nullptr, &::PQfinish};
  sql_row_mapper rows_;
};

} // namespace

caf::expected<uint64_t> read_postgres(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  auto limit =
      checked_record_limit(spec, {"query", "table", "text_column", "label_column", "id_column",
                                  "cursor_column", "password_file", "connect_timeout"});
  if (!limit)
    return limit.error();
  auto statement = sql_statement_of(spec, "$1");
  if (!statement)
    return statement.error();
  postgres_source source{spec, q};
  if (auto err = source.connect())
    return err;
  if (auto err = source.open_cursor(*statement))
    return err;
  return source.read_rows(*limit, emit);
}

} // namespace llmos::dataset

#else

namespace llmos::dataset {

caf::expected<uint64_t> read_postgres(const source_spec& spec, quarantine&, const emit_fn&) {
  return reader_error(error_code::unknown_kind, spec, spec.kind,
                      "this build of llmos has no PostgreSQL client (CMake did not find libpq: "
                      "install libpq-dev and configure again)");
}

} // namespace llmos::dataset

#endif
