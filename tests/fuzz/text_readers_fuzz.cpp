// A data source's file as the readers meet it: the same bytes read as CSV (with and without a
// header's columns present), TSV without quoting, JSON Lines and a one-mail maildir, through
// read_source as a pipeline runs it. Rows that cannot be read go to the quarantine; the records
// that come out must be UTF-8 (what the readers promise the cleaning stage).
#include <filesystem>
#include <stdexcept>
#include <string>

#include "dataset/clean/utf8.hpp"
#include "dataset/readers/reader.hpp"
#include "fuzz_target.hpp"

namespace fs = std::filesystem;

namespace {

void read(const std::string& kind, const fs::path& path,
          std::map<std::string, std::string> options) {
  llmos::dataset::source_spec spec{"fuzz", kind, path.string(), std::move(options), 1000};
  llmos::dataset::quarantine q;
  (void)llmos::dataset::read_source(spec, q, [&](llmos::dataset::record&& r) {
    if (!llmos::dataset::is_valid_utf8(r.text) || !llmos::dataset::is_valid_utf8(r.label))
      throw std::logic_error{kind + " reader emitted invalid UTF-8"};
  });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto bytes = llmos::fuzz::as_text(data, size);
  const auto& dir = llmos::fuzz::scratch_dir();
  const auto file = dir / "input";
  llmos::fuzz::write_file(file, bytes);
  read("csv", file, {{"text_column", "text"}, {"label_column", "label"}});
  read("csv", file, {{"text_column", "a"}, {"delimiter", ";"}});
  read("tsv", file, {{"text_column", "text"}, {"quote", "none"}});
  read("jsonl", file, {{"text_field", "text"}, {"label_field", "label"}});
  fs::create_directories(dir / "mail" / "ham");
  llmos::fuzz::write_file(dir / "mail" / "ham" / "1.eml", bytes);
  read("maildir", dir / "mail", {});
  return 0;
}
