#include "dataset/readers/fortunes_reader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "dataset/readers/ansi.hpp"
#include "dataset/readers/reader_options.hpp"
#include "dataset/readers/utf8.hpp"

namespace llmos::dataset {
namespace {

namespace fs = std::filesystem;

struct file_options {
  std::string label;
  bool strip_ansi = false;
  uint64_t limit = 0;
};

/// Reads one fortune file; adds to `emitted`, or returns a hard error.
caf::error read_file(const source_spec& spec, const fs::path& path, const file_options& opts,
                     quarantine& q, const emit_fn& emit, uint64_t& emitted) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return reader_error(error_code::io_failed, spec, path.string(),
                        "cannot open the file; check that it exists and is readable");
  const std::string rule = reader_rule(spec);
  const std::string file_name = path.filename().string();
  uint64_t line_no = 0;
  uint64_t entry_line = 1;
  uint64_t index = 0;
  std::string entry;
  auto finish_entry = [&] {
    std::string text = opts.strip_ansi ? strip_ansi(entry) : std::move(entry);
    entry.clear();
    while (!text.empty() && text.back() == '\n')
      text.pop_back(); // blank lines before the next "%" belong to no entry
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
      return; // "%" at the start or twice in a row: nothing lost
    record r;
    r.origin = source_location{spec.name, path.string(), entry_line, index++};
    if (auto bad = first_invalid_utf8(text); bad != text.size()) {
      q.add(quarantine_entry{rule,
                             "invalid UTF-8 at byte " + std::to_string(bad) +
                                 " of the entry; convert the file to UTF-8",
                             r.origin, std::move(text)});
      return;
    }
    r.id = spec.name + "/" + file_name + ":" + std::to_string(entry_line);
    r.text = std::move(text);
    r.label = opts.label.empty() ? file_name : opts.label;
    ++emitted;
    emit(std::move(r));
  };
  std::string line;
  while (!limit_reached(opts.limit, emitted) && std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line == "%") {
      finish_entry();
      entry_line = line_no + 1;
      continue;
    }
    if (entry.empty() && line.empty()) {
      entry_line = line_no + 1; // leading blank lines: the location points at the text
      continue;
    }
    if (!entry.empty())
      entry += '\n';
    entry += line;
  }
  if (in.bad())
    return reader_error(error_code::io_failed, spec, path.string() + ":" + std::to_string(line_no),
                        "read failed; check the disk and the file");
  if (!limit_reached(opts.limit, emitted))
    finish_entry();
  return {};
}

} // namespace

caf::expected<uint64_t> read_fortunes(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  auto limit = checked_record_limit(spec, {"label", "strip_ansi"});
  if (!limit)
    return limit.error();
  file_options opts;
  opts.label = option_or(spec, "label", "");
  auto strip = bool_option(spec, "strip_ansi", false);
  if (!strip)
    return strip.error();
  opts.strip_ansi = *strip;
  opts.limit = *limit;
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(spec.path, ec)) {
    for (fs::directory_iterator it{spec.path, ec}; !ec && it != fs::directory_iterator{};
         it.increment(ec)) {
      std::error_code type_ec;
      const auto name = it->path().filename().string();
      if (name.find('.') == std::string::npos && it->is_regular_file(type_ec))
        files.push_back(it->path());
    }
    if (ec)
      return reader_error(error_code::io_failed, spec, spec.path,
                          "cannot list the folder: " + ec.message() + "; check its permissions");
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(spec.path, ec)) {
    files.emplace_back(spec.path);
  } else {
    return reader_error(error_code::io_failed, spec, spec.path,
                        "no such file or folder; set path to a fortune file or its folder");
  }
  uint64_t emitted = 0;
  for (const auto& file : files) {
    if (limit_reached(opts.limit, emitted))
      break;
    if (auto err = read_file(spec, file, opts, q, emit, emitted))
      return err;
  }
  return emitted;
}

} // namespace llmos::dataset
