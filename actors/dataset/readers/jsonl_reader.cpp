#include "dataset/readers/jsonl_reader.hpp"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "dataset/readers/reader_options.hpp"
#include "dataset/readers/utf8.hpp"

namespace llmos::dataset {
namespace {

/// Turns one non-blank line into a record, or says why it cannot be one.
std::string to_record(const std::string& line, const std::string& text_field,
                      const std::string* label_field, record& r) {
  if (auto bad = first_invalid_utf8(line); bad != line.size())
    return "invalid UTF-8 at byte " + std::to_string(bad) + "; convert the file to UTF-8";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& ex) {
    // Only the parse throws; its message (with the column) is the reason the user needs.
    return std::string{"not valid JSON: "} + ex.what();
  }
  if (!j.is_object())
    return std::string{"a line must hold a JSON object, this one holds "} + j.type_name();
  auto text = j.find(text_field);
  if (text == j.end())
    return "no field '" + text_field + "' (option text_field)";
  if (!text->is_string())
    return "field '" + text_field + "' is " + text->type_name() + ", not a string";
  r.text = text->get<std::string>();
  if (label_field != nullptr) {
    auto label = j.find(*label_field);
    if (label == j.end())
      return "no field '" + *label_field + "' (option label_field)";
    if (label->is_string())
      r.label = label->get<std::string>();
    else if (label->is_number_integer())
      r.label = label->dump();
    else
      return "field '" + *label_field + "' is " + label->type_name() +
             ", not a string or an integer";
  }
  for (const auto& [key, value] : j.items()) {
    if (key == text_field || (label_field != nullptr && key == *label_field))
      continue;
    r.meta[key] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return {};
}

} // namespace

caf::expected<uint64_t> read_jsonl(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  auto limit = checked_record_limit(spec, {"text_field", "label_field"});
  if (!limit)
    return limit.error();
  const std::string text_field = option_or(spec, "text_field", "text");
  const auto label_option = find_option(spec, "label_field");
  const std::string* label_field = label_option ? &*label_option : nullptr;
  std::error_code ec;
  if (std::filesystem::is_directory(spec.path, ec))
    return reader_error(error_code::io_failed, spec, spec.path,
                        "is a folder, not a file; set path to the JSON Lines file");
  std::ifstream in{spec.path, std::ios::binary};
  if (!in)
    return reader_error(error_code::io_failed, spec, spec.path,
                        "cannot open the file; check that the path exists and is readable");
  const std::string rule = reader_rule(spec);
  uint64_t line_no = 0;
  uint64_t index = 0;
  uint64_t emitted = 0;
  std::string line;
  while (!limit_reached(*limit, emitted) && std::getline(in, line)) {
    ++line_no;
    if (line_no == 1 && line.starts_with("\xEF\xBB\xBF"))
      line.erase(0, 3);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue; // blank lines separate nothing in JSON Lines; skipping them loses no data
    record r;
    r.origin = source_location{spec.name, spec.path, line_no, index++};
    if (auto reason = to_record(line, text_field, label_field, r); !reason.empty()) {
      q.add(quarantine_entry{rule, reason, r.origin, line});
      continue;
    }
    r.id = spec.name + ":" + std::to_string(line_no);
    ++emitted;
    emit(std::move(r));
  }
  if (in.bad())
    return reader_error(error_code::io_failed, spec, spec.path + ":" + std::to_string(line_no),
                        "read failed; check the disk and the file");
  return emitted;
}

} // namespace llmos::dataset
