// A data source's file as the readers meet it: the same bytes read as CSV (with and without a
// header's columns present), TSV without quoting, JSON Lines and a one-mail maildir, through
// read_source as a pipeline runs it. Rows that cannot be read go to the quarantine; the records
// that come out must be UTF-8 (what the readers promise the cleaning stage).
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "dataset/clean/utf8.hpp"
#include "dataset/readers/reader.hpp"
#include "fuzz_target.hpp"

namespace fs = std::filesystem;

namespace {

/// A folder of this process (libFuzzer may run several processes side by side).
const fs::path& scratch() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("llmos-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d / "mail" / "ham");
    return d;
  }();
  return dir;
}

void write(const fs::path& path, std::string_view bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void read(const std::string& kind, const fs::path& path,
          std::map<std::string, std::string> options) {
  llmos::data::source_spec spec{"fuzz", kind, path.string(), std::move(options), 1000};
  llmos::data::quarantine q;
  (void)llmos::data::read_source(spec, q, [&](llmos::data::record&& r) {
    if (!llmos::data::is_valid_utf8(r.text) || !llmos::data::is_valid_utf8(r.label))
      throw std::logic_error{kind + " reader emitted invalid UTF-8"};
  });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto bytes = llmos::fuzz::as_text(data, size);
  const auto file = scratch() / "input";
  write(file, bytes);
  read("csv", file, {{"text_column", "text"}, {"label_column", "label"}});
  read("csv", file, {{"text_column", "a"}, {"delimiter", ";"}});
  read("tsv", file, {{"text_column", "text"}, {"quote", "none"}});
  read("jsonl", file, {{"text_field", "text"}, {"label_field", "label"}});
  write(scratch() / "mail" / "ham" / "1.eml", bytes);
  read("maildir", scratch() / "mail", {});
  return 0;
}
