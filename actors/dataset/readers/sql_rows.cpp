#include "dataset/readers/sql_rows.hpp"

#include "dataset/readers/reader_options.hpp"
#include "dataset/readers/utf8.hpp"

namespace llmos::dataset {

std::string quote_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name)
    quoted += c == '"' ? std::string{"\"\""} : std::string{c};
  return quoted + "\"";
}

caf::expected<sql_statement> sql_statement_of(const source_spec& spec,
                                              std::string_view placeholder) {
  auto query = find_option(spec, "query");
  auto table = find_option(spec, "table");
  if (query && table)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "options 'query' and 'table' are both given; keep one of them");
  if (!query && !table)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "a " + spec.kind +
                            " source needs 'query' (one SELECT statement) or 'table'");
  sql_statement out{query ? *query : "SELECT * FROM " + quote_identifier(*table), false};
  auto column = find_option(spec, "cursor_column");
  if (!column)
    return out;
  // A trailing semicolon would end the subquery early.
  while (!out.text.empty() &&
         (out.text.back() == ';' || out.text.back() == ' ' || out.text.back() == '\n'))
    out.text.pop_back();
  const auto col = "llmos_q." + quote_identifier(*column);
  std::string wrapped = "SELECT * FROM (" + out.text + ") AS llmos_q";
  if (spec.cursor != nullptr && !spec.cursor->after.empty()) {
    wrapped += " WHERE " + col + " > " + std::string{placeholder};
    out.has_parameter = true;
  }
  out.text = wrapped + " ORDER BY " + col;
  return out;
}

caf::error sql_row_mapper::map_columns(std::vector<std::string> names) {
  names_ = std::move(names);
  for (std::size_t i = 0; i < names_.size(); ++i)
    listed_ += (i == 0 ? "" : ", ") + names_[i];
  auto text = index_of("text_column", option_or(spec_, "text_column", "text"));
  if (!text)
    return text.error();
  text_ = *text;
  for (auto [key, slot] : {std::pair{"label_column", &label_}, std::pair{"id_column", &id_},
                           std::pair{"cursor_column", &cursor_}})
    if (auto name = find_option(spec_, key)) {
      auto found = index_of(key, *name);
      if (!found)
        return found.error();
      *slot = *found;
    }
  if (cursor_ && !id_)
    return reader_error(error_code::bad_config, spec_, spec_.path,
                        "option 'cursor_column' needs 'id_column' too: an incremental read "
                        "numbers its rows from 1 again, so row numbers cannot be ids");
  return {};
}

caf::expected<int> sql_row_mapper::index_of(const std::string& key, const std::string& name) const {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name)
      return static_cast<int>(i);
  return reader_error(error_code::bad_config, spec_, spec_.path,
                      "option '" + key + "': the query has no column '" + name +
                          "' (columns: " + listed_ + "); use one of them or rename it with AS");
}

void sql_row_mapper::refuse(const std::string& reason, std::string shown) {
  quarantine_entry e;
  e.rule = reader_rule(spec_);
  e.reason = reason;
  e.origin = source_location{spec_.name, spec_.path, row_, row_ - 1};
  e.text = std::move(shown);
  q_.add(std::move(e));
}

bool sql_row_mapper::take_row(std::vector<std::optional<std::string>>& row, record& r) {
  ++row_;
  // The cursor moves past every row read, those refused below too: they are not read again.
  if (cursor_ && spec_.cursor != nullptr && row[static_cast<std::size_t>(*cursor_)])
    spec_.cursor->last = *row[static_cast<std::size_t>(*cursor_)];
  for (int i = 0; i < static_cast<int>(names_.size()); ++i) {
    auto& value = row[static_cast<std::size_t>(i)];
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
  if (r.id.empty())
    r.id = spec_.name + ":row" + std::to_string(row_);
  r.origin = source_location{spec_.name, spec_.path, row_, row_ - 1};
  return true;
}

} // namespace llmos::dataset
