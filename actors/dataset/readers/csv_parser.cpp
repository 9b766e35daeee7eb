#include "dataset/readers/csv_parser.hpp"

namespace llmos::dataset {
namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

/// Where the first line of `raw` ends and where the line after it begins.
std::pair<std::size_t, std::size_t> first_line_break(const std::string& raw) {
  auto pos = raw.find_first_of("\r\n");
  if (pos == std::string::npos)
    return {raw.size(), raw.size()};
  if (raw[pos] == '\r' && pos + 1 < raw.size() && raw[pos + 1] == '\n')
    return {pos, pos + 2};
  return {pos, pos + 1};
}

} // namespace

csv_parser::csv_parser(char delimiter, char quote) : delimiter_(delimiter), quote_(quote) {}

void csv_parser::feed(std::string_view chunk, const row_fn& on_row) {
  // The BOM may arrive split over chunks; bytes that turn out not to be one are parsed as data.
  while (!bom_done_ && !chunk.empty()) {
    if (chunk.front() == utf8_bom[bom_matched_]) {
      chunk.remove_prefix(1);
      if (++bom_matched_ == utf8_bom.size())
        bom_done_ = true;
    } else {
      bom_done_ = true;
      consume(utf8_bom.substr(0, bom_matched_), on_row);
    }
  }
  consume(chunk, on_row);
}

void csv_parser::finish(const row_fn& on_row) {
  if (!bom_done_) {
    bom_done_ = true;
    consume(utf8_bom.substr(0, bom_matched_), on_row);
  }
  // Each pass refuses the first line of an unterminated quoted row and parses the rest again;
  // a loop rather than recursion so many stray quotes cannot exhaust the stack.
  while (state_ == state::quoted) {
    std::string raw = std::move(row_.raw);
    auto [line_end, rest_begin] = first_line_break(raw);
    csv_row bad;
    bad.line = row_.line;
    bad.raw = raw.substr(0, line_end);
    bad.error = "unterminated quoted field (a '" + std::string(1, quote_) +
                "' opens a field that never closes); the lines after it are read again";
    const uint64_t next_line = row_.line + 1;
    reset_row();
    state_ = state::field_start;
    prev_cr_ = false;
    on_row(std::move(bad));
    line_ = next_line;
    consume(std::string_view{raw}.substr(rest_begin), on_row);
  }
  if (row_started_)
    end_row(on_row);
}

void csv_parser::consume(std::string_view bytes, const row_fn& on_row) {
  for (char c : bytes) {
    const bool newline = c == '\n' || c == '\r';
    const bool lf_after_cr = c == '\n' && prev_cr_;
    prev_cr_ = c == '\r';
    if (newline && !lf_after_cr)
      ++line_;
    if (state_ == state::quoted) {
      // Inside quotes everything is data, line ends included (kept byte-exact).
      if (c == quote_) {
        state_ = state::after_quote;
      } else {
        field_ += c;
      }
      row_.raw += c;
      continue;
    }
    if (newline) {
      // The '\n' of a CRLF was already handled by its '\r'; a blank line is no row.
      if (!lf_after_cr && row_started_)
        end_row(on_row);
      continue;
    }
    if (!row_started_) {
      row_started_ = true;
      // line_ was already advanced past any line end, so it is this row's first line.
      row_.line = line_;
    }
    row_.raw += c;
    take_outside_quotes(c);
  }
}

/// One byte of a row outside quotes (or just after a closing quote), not a line end.
void csv_parser::take_outside_quotes(char c) {
  switch (state_) {
  case state::field_start:
    if (quote_ != '\0' && c == quote_)
      state_ = state::quoted;
    else if (c == delimiter_)
      end_field();
    else {
      field_ += c;
      state_ = state::unquoted;
    }
    break;
  case state::unquoted:
    // A quote inside an unquoted field (5" screen) is kept as data, as most writers expect.
    if (c == delimiter_)
      end_field();
    else
      field_ += c;
    break;
  case state::after_quote:
    if (c == quote_) {
      field_ += c; // a doubled quote inside a quoted field
      state_ = state::quoted;
    } else if (c == delimiter_) {
      end_field();
    } else {
      if (row_.error.empty())
        row_.error = "text after the closing quote of field " +
                     std::to_string(row_.fields.size() + 1) +
                     "; quote the whole field and double the quotes inside it";
      field_ += c;
      state_ = state::unquoted;
    }
    break;
  case state::quoted:
    break; // handled above
  }
}

void csv_parser::end_field() {
  row_.fields.push_back(std::move(field_));
  field_.clear();
  state_ = state::field_start;
}

void csv_parser::end_row(const row_fn& on_row) {
  end_field();
  csv_row done = std::move(row_);
  reset_row();
  on_row(std::move(done));
}

void csv_parser::reset_row() {
  row_ = csv_row{};
  field_.clear();
  row_started_ = false;
}

} // namespace llmos::dataset
