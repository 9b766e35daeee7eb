#include "dataset/readers/csv_reader.hpp"

#include <filesystem>
#include <fstream>
#include <optional>

#include "dataset/readers/csv_parser.hpp"
#include "dataset/readers/reader_options.hpp"
#include "dataset/readers/utf8.hpp"

namespace llmos::dataset {
namespace {

constexpr std::size_t chunk_size = 64 * 1024;

caf::expected<char> single_char_option(const source_spec& spec, const std::string& key,
                                       char fallback) {
  auto value = find_option(spec, key);
  if (!value)
    return fallback;
  if (*value == "\\t" || *value == "tab" || *value == "\t")
    return '\t';
  if (key == "quote" && (*value == "none" || value->empty()))
    return '\0';
  if (value->size() == 1)
    return (*value)[0];
  return reader_error(error_code::bad_config, spec, spec.path,
                      "option '" + key + "': '" + *value +
                          "' is not a single character; write e.g. ',' or 'tab'");
}

/// How the file begins: rows to skip, then a header row or none (columns named by index).
struct file_layout {
  bool header = true;
  uint64_t skip_rows = 0;
};

caf::expected<file_layout> layout_of(const source_spec& spec) {
  auto header = bool_option(spec, "header", true);
  if (!header)
    return header.error();
  auto skip = uint_option(spec, "skip_rows", 0);
  if (!skip)
    return skip.error();
  return file_layout{*header, *skip};
}

/// Everything that turns parsed rows into records; the header row sets it up (or, without
/// one, the first data row's width: columns "0", "1", ...).
class row_handler {
public:
  row_handler(const source_spec& spec, quarantine& q, const emit_fn& emit, uint64_t limit,
              file_layout layout)
      : spec_(spec), q_(q), emit_(emit), rule_(reader_rule(spec)), limit_(limit), layout_(layout) {}

  /// Handles one row; after a hard error (in the header) further rows are ignored.
  void operator()(csv_row&& row) {
    if (failure_ || done())
      return;
    if (skipped_ < layout_.skip_rows) {
      ++skipped_;
      return;
    }
    if (header_.empty()) {
      if (layout_.header)
        return take_header(std::move(row));
      csv_row names;
      names.line = row.line;
      for (std::size_t i = 0; i < row.fields.size(); ++i)
        names.fields.push_back(std::to_string(i));
      take_header(std::move(names));
      if (failure_)
        return;
    }
    const uint64_t index = index_++;
    auto refuse = [&](const std::string& reason) {
      quarantine_entry e;
      e.rule = rule_;
      e.reason = reason;
      e.origin = source_location{spec_.name, spec_.path, row.line, index};
      e.text = std::move(row.raw);
      q_.add(std::move(e));
    };
    if (!row.error.empty())
      return refuse(row.error);
    if (row.fields.size() != header_.size())
      return refuse("row has " + std::to_string(row.fields.size()) + " fields, " +
                    (layout_.header ? "the header has " : "the first row has ") +
                    std::to_string(header_.size()) +
                    "; quote fields that hold the delimiter or fix the row");
    if (auto bad = first_invalid_utf8(row.raw); bad != row.raw.size())
      return refuse("invalid UTF-8 at byte " + std::to_string(bad) +
                    " of the row; convert the file to UTF-8");
    record r;
    r.id = spec_.name + ":" + std::to_string(row.line);
    r.origin = source_location{spec_.name, spec_.path, row.line, index};
    for (std::size_t i = 0; i < row.fields.size(); ++i) {
      if (i == text_index_)
        r.text = std::move(row.fields[i]);
      else if (label_index_ && i == *label_index_)
        r.label = std::move(row.fields[i]);
      else
        r.meta[header_[i]] = std::move(row.fields[i]);
    }
    ++emitted_;
    emit_(std::move(r));
  }

  /// The hard error met, if any (an empty error otherwise).
  const caf::error& failure() const { return failure_; }

  /// True once a header row was seen.
  bool has_header() const { return !header_.empty(); }

  uint64_t emitted() const { return emitted_; }

  /// True once the record limit is reached: the rest of the file need not be read.
  bool done() const { return limit_reached(limit_, emitted_); }

private:
  void take_header(csv_row&& row) {
    const std::string where = spec_.path + ":" + std::to_string(row.line);
    if (!row.error.empty() || !valid_utf8(row.raw)) {
      failure_ = reader_error(
          error_code::bad_config, spec_, where,
          "header row: " + (row.error.empty() ? std::string{"invalid UTF-8"} : row.error) +
              "; fix the first row of the file");
      return;
    }
    std::string names;
    for (std::size_t i = 0; i < row.fields.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j)
        if (row.fields[j] == row.fields[i]) {
          failure_ = reader_error(error_code::bad_config, spec_, where,
                                  "header row: column '" + row.fields[i] +
                                      "' appears twice; give every column its own name");
          return;
        }
      names += (i == 0 ? "" : ", ") + row.fields[i];
    }
    auto column = [&](const std::string& key,
                      const std::string& name) -> std::optional<std::size_t> {
      for (std::size_t i = 0; i < row.fields.size(); ++i)
        if (row.fields[i] == name)
          return i;
      failure_ = reader_error(
          error_code::bad_config, spec_, where,
          "option '" + key + "': no column '" + name + "' in the header (columns: " + names +
              "); use one of them" +
              (layout_.header ? ", or 'header: false' when the first row is data"
                              : " (the rows have no header: columns are numbered from 0)"));
      return std::nullopt;
    };
    auto text =
        column("text_column", option_or(spec_, "text_column", layout_.header ? "text" : "0"));
    if (!text)
      return;
    text_index_ = *text;
    if (auto label = find_option(spec_, "label_column")) {
      label_index_ = column("label_column", *label);
      if (!label_index_)
        return;
      if (*label_index_ == text_index_) {
        failure_ = reader_error(error_code::bad_config, spec_, where,
                                "options 'text_column' and 'label_column' name the same column '" +
                                    *label + "'; name two different columns");
        return;
      }
    }
    header_ = std::move(row.fields);
  }

  const source_spec& spec_;
  quarantine& q_;
  const emit_fn& emit_;
  std::string rule_;
  uint64_t limit_;
  file_layout layout_;
  uint64_t skipped_ = 0;
  std::vector<std::string> header_;
  std::size_t text_index_ = 0;
  std::optional<std::size_t> label_index_;
  uint64_t index_ = 0;
  uint64_t emitted_ = 0;
  caf::error failure_;
};

} // namespace

caf::expected<uint64_t> read_csv(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  auto limit = checked_record_limit(
      spec, {"text_column", "label_column", "delimiter", "quote", "header", "skip_rows"});
  if (!limit)
    return limit.error();
  auto layout = layout_of(spec);
  if (!layout)
    return layout.error();
  auto delimiter = single_char_option(spec, "delimiter", spec.kind == "tsv" ? '\t' : ',');
  if (!delimiter)
    return delimiter.error();
  auto quote = single_char_option(spec, "quote", '"');
  if (!quote)
    return quote.error();
  if (*quote != '\0' && *quote == *delimiter)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "options 'quote' and 'delimiter' are the same character; change one");
  std::error_code ec;
  if (std::filesystem::is_directory(spec.path, ec))
    return reader_error(error_code::io_failed, spec, spec.path,
                        "is a folder, not a file; set path to the " + spec.kind + " file");
  std::ifstream in{spec.path, std::ios::binary};
  if (!in)
    return reader_error(error_code::io_failed, spec, spec.path,
                        "cannot open the file; check that the path exists and is readable");
  csv_parser parser{*delimiter, *quote};
  row_handler handler{spec, q, emit, *limit, *layout};
  const csv_parser::row_fn on_row = [&](csv_row&& row) { handler(std::move(row)); };
  std::string buffer(chunk_size, '\0');
  while (in && !handler.done()) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    parser.feed(std::string_view{buffer.data(), static_cast<std::size_t>(in.gcount())}, on_row);
    if (handler.failure())
      return handler.failure();
  }
  if (in.bad())
    return reader_error(error_code::io_failed, spec, spec.path,
                        "read failed after " + std::to_string(handler.emitted()) +
                            " records; check the disk and the file");
  if (!handler.done())
    parser.finish(on_row);
  if (handler.failure())
    return handler.failure();
  if (!handler.has_header() && layout->header)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "the file is empty" +
                            std::string{layout->skip_rows > 0 ? " after the skipped rows" : ""} +
                            "; a " + spec.kind +
                            " source needs a header row ('header: false' "
                            "for a file of data rows only)");
  return handler.emitted();
}

} // namespace llmos::dataset
