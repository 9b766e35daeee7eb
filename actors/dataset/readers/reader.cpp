#include "dataset/readers/reader.hpp"

#include "dataset/readers/csv_reader.hpp"
#include "dataset/readers/fortunes_reader.hpp"
#include "dataset/readers/http_reader.hpp"
#include "dataset/readers/idx_reader.hpp"
#include "dataset/readers/jsonl_reader.hpp"
#include "dataset/readers/maildir_reader.hpp"
#include "dataset/readers/postgres_reader.hpp"
#include "dataset/readers/reader_options.hpp"
#include "dataset/readers/sqlite_reader.hpp"
#include "llmos/runtime/suggest.hpp"

namespace llmos::dataset {
namespace {

using read_fn = caf::expected<uint64_t> (*)(const source_spec&, quarantine&, const emit_fn&);

struct reader_entry {
  std::string_view kind;
  read_fn read;
};

// One row a kind, in the order the documentation lists them: reader_kinds() and read_source()
// both read it, so a new reader is added here once.
constexpr reader_entry readers[] = {
    {"csv", read_csv},         {"tsv", read_csv},           {"jsonl", read_jsonl},
    {"maildir", read_maildir}, {"fortunes", read_fortunes}, {"idx", read_idx},
    {"sqlite", read_sqlite},   {"postgres", read_postgres}, {"http", read_http},
};

} // namespace

const std::vector<std::string>& reader_kinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> out;
    for (const auto& r : readers)
      out.emplace_back(r.kind);
    return out;
  }();
  return kinds;
}

caf::expected<uint64_t> read_source(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  if (!emit)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "no record callback given; pass a function that takes the records");
  for (const auto& r : readers)
    if (spec.kind == r.kind)
      return r.read(spec, q, emit);
  return reader_error(error_code::unknown_kind, spec, spec.path,
                      "kind '" + spec.kind +
                          "' has no reader; use one of: " + join_words(reader_kinds()));
}

} // namespace llmos::dataset
