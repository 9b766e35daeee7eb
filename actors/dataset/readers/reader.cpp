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

namespace llmos::dataset {

const std::vector<std::string>& reader_kinds() {
  static const std::vector<std::string> kinds{"csv", "tsv",    "jsonl",    "maildir", "fortunes",
                                              "idx", "sqlite", "postgres", "http"};
  return kinds;
}

caf::expected<uint64_t> read_source(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  if (!emit)
    return reader_error(error_code::bad_config, spec, spec.path,
                        "no record callback given; pass a function that takes the records");
  if (spec.kind == "csv" || spec.kind == "tsv")
    return read_csv(spec, q, emit);
  if (spec.kind == "jsonl")
    return read_jsonl(spec, q, emit);
  if (spec.kind == "maildir")
    return read_maildir(spec, q, emit);
  if (spec.kind == "fortunes")
    return read_fortunes(spec, q, emit);
  if (spec.kind == "idx")
    return read_idx(spec, q, emit);
  if (spec.kind == "sqlite")
    return read_sqlite(spec, q, emit);
  if (spec.kind == "postgres")
    return read_postgres(spec, q, emit);
  if (spec.kind == "http")
    return read_http(spec, q, emit);
  std::string kinds;
  for (const auto& k : reader_kinds())
    kinds += (kinds.empty() ? "" : ", ") + k;
  return reader_error(error_code::unknown_kind, spec, spec.path,
                      "kind '" + spec.kind + "' has no reader; use one of: " + kinds);
}

} // namespace llmos::dataset
