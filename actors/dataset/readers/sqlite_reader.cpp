#include "dataset/readers/sqlite_reader.hpp"

#include "dataset/readers/reader_options.hpp"

#ifdef LLMOS_WITH_SQLITE

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <vector>

#include "dataset/readers/utf8.hpp"

namespace llmos::data {
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
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(spec.path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  db_ptr db{raw, &::sqlite3_close};
  if (opened != SQLITE_OK)
    return reader_error(error_code::io_failed, spec, spec.path,
                        std::string{"cannot open the database read-only: "} +
                            (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(opened)) +
                            "; check the path and its permissions");
  // A writer holding a lock (the application that fills the database) is waited for a while.
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_stmt* raw_stmt = nullptr;
  const char* tail = nullptr;
  const int prepared = sqlite3_prepare_v2(db.get(), query->c_str(),
                                          static_cast<int>(query->size() + 1), &raw_stmt, &tail);
  stmt_ptr stmt{raw_stmt, &::sqlite3_finalize};
  if (prepared != SQLITE_OK || stmt == nullptr)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'query': " +
                            std::string{prepared != SQLITE_OK ? sqlite3_errmsg(db.get())
                                                              : "it holds no statement"} +
                            "; write one SELECT statement");
  if (tail != nullptr &&
      std::string_view{tail}.find_first_not_of(" \t\r\n;") != std::string_view::npos)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'query': more than one statement; write one SELECT statement");
  if (sqlite3_stmt_readonly(stmt.get()) == 0)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'query' would change the database; a source only reads: write "
                        "a SELECT statement");
  const int columns = sqlite3_column_count(stmt.get());
  std::vector<std::string> names;
  std::string listed;
  for (int i = 0; i < columns; ++i) {
    names.emplace_back(sqlite3_column_name(stmt.get(), i));
    listed += (i == 0 ? "" : ", ") + names.back();
  }
  auto index_of = [&](const std::string& key,
                      const std::string& name) -> caf::expected<std::optional<int>> {
    for (int i = 0; i < columns; ++i)
      if (names[static_cast<std::size_t>(i)] == name)
        return std::optional<int>{i};
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option '" + key + "': the query has no column '" + name +
                            "' (columns: " + listed + "); use one of them or rename it with AS");
  };
  auto text = index_of("text_column", option_or(spec, "text_column", "text"));
  if (!text)
    return text.error();
  std::optional<int> label, id;
  for (auto [key, slot] : {std::pair{"label_column", &label}, std::pair{"id_column", &id}})
    if (auto name = find_option(spec, key)) {
      auto found = index_of(key, *name);
      if (!found)
        return found.error();
      *slot = **found;
    }
  const auto rule = reader_rule(spec);
  uint64_t row = 0;
  uint64_t emitted = 0;
  while (!limit_reached(*limit, emitted)) {
    const int step = sqlite3_step(stmt.get());
    if (step == SQLITE_DONE)
      break;
    if (step != SQLITE_ROW)
      return reader_error(error_code::io_failed, spec, spec.path,
                          "the query failed after " + std::to_string(row) +
                              " rows: " + sqlite3_errmsg(db.get()));
    ++row;
    auto refuse = [&](const std::string& reason, std::string shown) {
      quarantine_entry e;
      e.rule = rule;
      e.reason = reason;
      e.origin = source_location{spec.name, spec.path, row, row - 1};
      e.text = std::move(shown);
      q.add(std::move(e));
    };
    // The row as a record; false when it went to the quarantine instead.
    auto take_row = [&](record& r) {
      for (int i = 0; i < columns; ++i) {
        auto value = column_text(stmt.get(), i);
        const auto& name = names[static_cast<std::size_t>(i)];
        if (i == **text) {
          if (!value) {
            refuse("column '" + name + "' (the text) is NULL", "");
            return false;
          }
          if (auto bad = first_invalid_utf8(*value); bad != value->size()) {
            refuse("invalid UTF-8 at byte " + std::to_string(bad) + " of the text", *value);
            return false;
          }
          r.text = std::move(*value);
        } else if (label && i == *label) {
          r.label = value ? to_valid_utf8(*value) : std::string{};
        } else if (id && i == *id && value) {
          r.id = spec.name + ":" + to_valid_utf8(*value);
        } else if (value) {
          r.meta[name] = to_valid_utf8(*value);
        }
      }
      return true;
    };
    record r;
    if (!take_row(r))
      continue;
    if (r.id.empty())
      r.id = spec.name + ":row" + std::to_string(row);
    r.origin = source_location{spec.name, spec.path, row, row - 1};
    ++emitted;
    emit(std::move(r));
  }
  return emitted;
}

} // namespace llmos::data

#else

namespace llmos::data {

caf::expected<uint64_t> read_sqlite(const source_spec& spec, quarantine&, const emit_fn&) {
  return reader_error(error_code::unknown_kind, spec, spec.path,
                      "this build of llmos has no SQLite (CMake did not find SQLite 3: install "
                      "libsqlite3-dev and configure again)");
}

} // namespace llmos::data

#endif
