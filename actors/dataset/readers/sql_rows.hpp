// What the SQL source kinds (sqlite, postgres) share: the query their options name (`query`, or
// `table` as "SELECT * FROM <table>"), wrapped for an incremental cursor (ordered by the cursor
// column, past the last value read), and the mapping of a result row to a record: the text
// column (text_column, default "text"), the label and id columns when named (ids become
// "<source>:<id>", else "<source>:row<N>"), every other non-NULL column into record.meta. A row
// whose text is NULL or not UTF-8 goes to the quarantine under "<kind>_reader" with its row
// number. The cursor column's value of each row read is kept in spec.cursor->last.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// `name` as an SQL identifier in double quotes (inner quotes doubled).
std::string quote_identifier(std::string_view name);

/// The statement to run: the source's query, and with a cursor column
/// `SELECT * FROM (<query>) AS llmos_q [WHERE "<col>" > <placeholder>] ORDER BY "<col>"`, the
/// WHERE only when spec.cursor has a value to start after. `placeholder` is the kind's parameter
/// marker ("?" or "$1"); `has_parameter` tells whether the statement uses it.
struct sql_statement {
  std::string text;
  bool has_parameter = false;
};
caf::expected<sql_statement> sql_statement_of(const source_spec& spec,
                                              std::string_view placeholder);

/// Turns one source's result rows into records.
class sql_row_mapper {
public:
  sql_row_mapper(const source_spec& spec, quarantine& q) : spec_(spec), q_(q) {}

  /// Finds the text, label, id and cursor columns among the result's column `names`; a
  /// bad_config error names the option, the column and those there are.
  caf::error map_columns(std::vector<std::string> names);

  /// The current row (one value per column, nullopt for NULL; moved from) as a record in `r`;
  /// false when it went to the quarantine instead. Rows are numbered from 1 in call order.
  bool take_row(std::vector<std::optional<std::string>>& row, record& r);

  /// Rows taken so far.
  uint64_t rows() const { return row_; }

private:
  void refuse(const std::string& reason, std::string shown);
  caf::expected<int> index_of(const std::string& key, const std::string& name) const;

  const source_spec& spec_;
  quarantine& q_;
  std::vector<std::string> names_;
  std::string listed_;
  int text_ = 0;
  std::optional<int> label_, id_, cursor_;
  uint64_t row_ = 0;
};

} // namespace llmos::dataset
