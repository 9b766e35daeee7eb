#include "dataset/readers/sqlite_reader.hpp"

#include "dataset/readers/reader_options.hpp"

#ifdef LLMOS_WITH_SQLITE

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <vector>

#include "dataset/readers/utf8.hpp"

namespace llmos::dataset {
namespace {

using db_ptr = std::unique_ptr<sqlite3, decltype(&::sqlite3_close)>;
using stmt_ptr = std::unique_ptr<sqlite3_stmt, decltype(&::sqlite3_finalize)>;

/// The query the options ask for, or why they do not name one.
caf::expected<std::string> query_of(const source_spec& spec) {
  auto query = find_option(spec, "query");
  auto table = find_option(spec, "table");
  if (query && table)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "options 'query' and 'table' are both given; keep one of them");
  if (query)
    return *query;
  if (!table)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "a sqlite source needs 'query' (one SELECT statement) or 'table'");
  std::string quoted = "\"";
  for (char c : *table)
    quoted += c == '"' ? std::string{"\"\""} : std::string{c};
  return "SELECT * FROM " + quoted + "\"";
}

/// The text of column `i` of the current row; nullopt for NULL.
std::optional<std::string> column_text(sqlite3_stmt* stmt, int i) {
  if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
    return std::nullopt;
  const auto* bytes = sqlite3_column_text(stmt, i);
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, i));
  return std::string{reinterpret_cast<const char*>(bytes), size};
}

/// One sqlite source being read: the database (read-only), its one SELECT statement, which
/// columns hold the text, label and id, then the rows as records.
class sqlite_source {
public:
  sqlite_source(const source_spec& spec, quarantine& q) : spec_(spec), q_(q) {}

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

  /// The text column (text_column, default "text"), and the label and id columns when named.
  caf::error map_columns() {
    const int columns = sqlite3_column_count(stmt_.get());
    for (int i = 0; i < columns; ++i) {
      names_.emplace_back(sqlite3_column_name(stmt_.get(), i));
      listed_ += (i == 0 ? "" : ", ") + names_.back();
    }
    auto text = index_of("text_column", option_or(spec_, "text_column", "text"));
    if (!text)
      return text.error();
    text_ = *text;
    for (auto [key, slot] : {std::pair{"label_column", &label_}, std::pair{"id_column", &id_}})
      if (auto name = find_option(spec_, key)) {
        auto found = index_of(key, *name);
        if (!found)
          return found.error();
        *slot = *found;
      }
    return {};
  }

  caf::expected<uint64_t> read_rows(uint64_t limit, const emit_fn& emit) {
    uint64_t emitted = 0;
    while (!limit_reached(limit, emitted)) {
      const int step = sqlite3_step(stmt_.get());
      if (step == SQLITE_DONE)
        break;
      if (step != SQLITE_ROW)
        return reader_error(error_code::io_failed, spec_, spec_.path,
                            "the query failed after " + std::to_string(row_) +
                                " rows: " + sqlite3_errmsg(db_.get()));
      ++row_;
      record r;
      if (!take_row(r))
        continue;
      if (r.id.empty())
        r.id = spec_.name + ":row" + std::to_string(row_);
      r.origin = source_location{spec_.name, spec_.path, row_, row_ - 1};
      ++emitted;
      emit(std::move(r));
    }
    return emitted;
  }

private:
  caf::error bad_query(const std::string& why) const {
    return reader_error(error_code::bad_config, spec_, spec_.path, "option 'query': " + why);
  }

  caf::expected<int> index_of(const std::string& key, const std::string& name) const {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name)
        return static_cast<int>(i);
    return reader_error(error_code::bad_config, spec_, spec_.path,
                        "option '" + key + "': the query has no column '" + name +
                            "' (columns: " + listed_ + "); use one of them or rename it with AS");
  }

  void refuse(const std::string& reason, std::string shown) {
    quarantine_entry e;
    e.rule = reader_rule(spec_);
    e.reason = reason;
    e.origin = source_location{spec_.name, spec_.path, row_, row_ - 1};
    e.text = std::move(shown);
    q_.add(std::move(e));
  }

  /// The current row as a record; false when it went to the quarantine instead.
  bool take_row(record& r) {
    for (int i = 0; i < static_cast<int>(names_.size()); ++i) {
      auto value = column_text(stmt_.get(), i);
      const auto& name = names_[static_cast<std::size_t>(i)];
      if (i == text_) {
        if (!value) {
          refuse("column '" + name + "' (the text) is NULL", "");
          return false;
        }
        if (auto bad = first_invalid_utf8(*value); bad != value->size()) {
          refuse("invalid UTF-8 at byte " + std::to_string(bad) + " of the text", *value);
          return false;
        }
        r.text = std::move(*value);
      } else if (label_ && i == *label_) {
        r.label = value ? to_valid_utf8(*value) : std::string{};
      } else if (id_ && i == *id_ && value) {
        r.id = spec_.name + ":" + to_valid_utf8(*value);
      } else if (value) {
        r.meta[name] = to_valid_utf8(*value);
      }
    }
    return true;
  }

  const source_spec& spec_;
  quarantine& q_;
  db_ptr db_{nullptr, &::sqlite3_close};
  stmt_ptr stmt_{nullptr, &::sqlite3_finalize};
  std::vector<std::string> names_;
  std::string listed_;
  int text_ = 0;
  std::optional<int> label_, id_;
  uint64_t row_ = 0;
};

} // namespace

caf::expected<uint64_t> read_sqlite(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  if (auto err =
          check_options(spec, {"query", "table", "text_column", "label_column", "id_column"}))
    return err;
  auto limit = record_limit(spec);
  if (!limit)
    return limit.error();
  auto query = query_of(spec);
  if (!query)
    return query.error();
  sqlite_source source{spec, q};
  if (auto err = source.open())
    return err;
  if (auto err = source.prepare(*query))
    return err;
  if (auto err = source.map_columns())
    return err;
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
