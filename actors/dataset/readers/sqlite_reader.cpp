#include "dataset/readers/sqlite_reader.hpp"

#include "dataset/readers/reader_options.hpp"

#ifdef LLMOS_WITH_SQLITE

#include <sqlite3.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "dataset/readers/sql_rows.hpp"

namespace llmos::dataset {
namespace {

using db_ptr = std::unique_ptr<sqlite3, decltype(&::sqlite3_close)>;
using stmt_ptr = std::unique_ptr<sqlite3_stmt, decltype(&::sqlite3_finalize)>;

/// The text of column `i` of the current row; nullopt for NULL.
std::optional<std::string> column_text(sqlite3_stmt* stmt, int i) {
  if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
    return std::nullopt;
  const auto* bytes = sqlite3_column_text(stmt, i);
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, i));
  return std::string{reinterpret_cast<const char*>(bytes), size};
}

/// Binds the cursor value as a number where it reads as one: SQLite compares an INTEGER column
/// with a TEXT value as text ("10" < "9").
void bind_cursor(sqlite3_stmt* stmt, const std::string& value) {
  char* end = nullptr;
  errno = 0;
  const long long whole = std::strtoll(value.c_str(), &end, 10);
  if (errno == 0 && end != value.c_str() && *end == '\0') {
    sqlite3_bind_int64(stmt, 1, whole);
    return;
  }
  const double real = std::strtod(value.c_str(), &end);
  if (end != value.c_str() && *end == '\0') {
    sqlite3_bind_double(stmt, 1, real);
    return;
  }
  sqlite3_bind_text(stmt, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}

/// One sqlite source being read: the database (read-only), its one SELECT statement, which
/// columns hold the text, label and id, then the rows as records.
class sqlite_source {
public:
  sqlite_source(const source_spec& spec, quarantine& q) : spec_(spec), rows_(spec, q) {}

  caf::error open() {
    sqlite3* raw = nullptr;
    const int opened = sqlite3_open_v2(spec_.path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    db_.reset(raw);
    if (opened != SQLITE_OK)
      return reader_error(error_code::io_failed, spec_, spec_.path,
                          std::string{"cannot open the database read-only: "} +
                              (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(opened)) +
                              "; check the path and its permissions");
    // A writer holding a lock (the application that fills the database) is waited for a while.
    sqlite3_busy_timeout(db_.get(), 5000);
    return {};
  }

  /// One read-only statement, nothing after it.
  caf::error prepare(const std::string& query) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int prepared = sqlite3_prepare_v2(db_.get(), query.c_str(),
                                            static_cast<int>(query.size() + 1), &raw, &tail);
    stmt_.reset(raw);
    if (prepared != SQLITE_OK || stmt_ == nullptr)
      return bad_query(
          std::string{prepared != SQLITE_OK ? sqlite3_errmsg(db_.get()) : "it holds no statement"} +
          "; write one SELECT statement");
    if (tail != nullptr &&
        std::string_view{tail}.find_first_not_of(" \t\r\n;") != std::string_view::npos)
      return bad_query("more than one statement; write one SELECT statement");
    if (sqlite3_stmt_readonly(stmt_.get()) == 0)
      return bad_query("it would change the database; a source only reads: write a SELECT "
                       "statement");
    return {};
  }

  /// The text, label, id and cursor columns.
  caf::error map_columns() {
    std::vector<std::string> names;
    for (int i = 0; i < sqlite3_column_count(stmt_.get()); ++i)
      names.emplace_back(sqlite3_column_name(stmt_.get(), i));
    return rows_.map_columns(std::move(names));
  }

  void bind(const sql_statement& statement) {
    if (statement.has_parameter)
      bind_cursor(stmt_.get(), spec_.cursor->after);
  }

  caf::expected<uint64_t> read_rows(uint64_t limit, const emit_fn& emit) {
    uint64_t emitted = 0;
    std::vector<std::optional<std::string>> row;
    while (!limit_reached(limit, emitted)) {
      const int step = sqlite3_step(stmt_.get());
      if (step == SQLITE_DONE)
        break;
      if (step != SQLITE_ROW)
        return reader_error(error_code::io_failed, spec_, spec_.path,
                            "the query failed after " + std::to_string(rows_.rows()) +
                                " rows: " + sqlite3_errmsg(db_.get()));
      row.clear();
      for (int i = 0; i < sqlite3_column_count(stmt_.get()); ++i)
        row.push_back(column_text(stmt_.get(), i));
      record r;
      if (!rows_.take_row(row, r))
        continue;
      ++emitted;
      emit(std::move(r));
    }
    return emitted;
  }

private:
  caf::error bad_query(const std::string& why) const {
    return reader_error(error_code::bad_config, spec_, spec_.path, "option 'query': " + why);
  }

  const source_spec& spec_;
  db_ptr db_{nullptr, &::sqlite3_close};
  stmt_ptr stmt_{nullptr, &::sqlite3_finalize};
  sql_row_mapper rows_;
};

} // namespace

caf::expected<uint64_t> read_sqlite(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  auto limit = checked_record_limit(
      spec, {"query", "table", "text_column", "label_column", "id_column", "cursor_column"});
  if (!limit)
    return limit.error();
  auto statement = sql_statement_of(spec, "?");
  if (!statement)
    return statement.error();
  sqlite_source source{spec, q};
  if (auto err = source.open())
    return err;
  if (auto err = source.prepare(statement->text))
    return err;
  if (auto err = source.map_columns())
    return err;
  source.bind(*statement);
  return source.read_rows(*limit, emit);
}

} // namespace llmos::dataset

#else

namespace llmos::dataset {

caf::expected<uint64_t> read_sqlite(const source_spec& spec, quarantine&, const emit_fn&) {
  return reader_error(error_code::unknown_kind, spec, spec.path,
                      "this build of llmos has no SQLite (CMake did not find SQLite 3: install "
                      "libsqlite3-dev and configure again)");
}

} // namespace llmos::dataset

#endif
