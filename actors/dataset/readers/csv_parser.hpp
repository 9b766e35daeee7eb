// An incremental RFC 4180 parser: bytes go in as chunks of any size (a file read 64 KiB at a
// time, or one byte at a time in tests) and complete rows come out with the line they start on.
// It handles quoted fields, doubled quotes, delimiters and line breaks inside quotes, CRLF, LF
// and lone CR line ends, and a UTF-8 byte order mark. It never fails: a malformed row comes out
// with `error` set so the reader can quarantine it and go on. An unterminated quote at the end
// of input refuses only the line it opened on and parses the lines after it again, so one stray
// quote does not swallow the rest of the file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace llmos::dataset {

/// One row as parsed.
struct csv_row {
  std::vector<std::string> fields;
  uint64_t line = 0; ///< 1-based line on which the row starts
  std::string raw;   ///< the row's bytes as in the input, without its line end (for quarantine)
  std::string error; ///< empty, or why the row is malformed
};

class csv_parser {
public:
  /// Receives each complete row.
  using row_fn = std::function<void(csv_row&&)>;

  /// `quote` == '\0' turns quoting off (plain TSV, where '"' is an ordinary byte).
  explicit csv_parser(char delimiter = ',', char quote = '"');

  /// Parses `chunk`, calling `on_row` for every row it completes.
  void feed(std::string_view chunk, const row_fn& on_row);

  /// Ends the input: emits the last row if it has no line end, and handles an open quote.
  void finish(const row_fn& on_row);

private:
  enum class state { field_start, unquoted, quoted, after_quote };

  void consume(std::string_view bytes, const row_fn& on_row);
  void take_outside_quotes(char c);
  void end_field();
  void end_row(const row_fn& on_row);
  void reset_row();

  char delimiter_;
  char quote_;
  state state_ = state::field_start;
  std::size_t bom_matched_ = 0; ///< bytes of a leading BOM seen so far
  bool bom_done_ = false;
  bool prev_cr_ = false;     ///< the last byte was '\r' (so a following '\n' ends nothing new)
  bool row_started_ = false; ///< a byte of the current row has been seen (blank lines are skipped)
  uint64_t line_ = 1;        ///< the line of the next byte
  csv_row row_;
  std::string field_;
};

} // namespace llmos::dataset
