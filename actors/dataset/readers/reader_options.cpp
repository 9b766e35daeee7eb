#include "dataset/readers/reader_options.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace llmos::dataset {

std::string reader_rule(const source_spec& spec) {
  return spec.kind + "_reader";
}

caf::error reader_error(error_code code, const source_spec& spec, const std::string& where,
                        const std::string& what) {
  return make_llmos_error(code,
                          where + ": source '" + spec.name + "' (" + spec.kind + "): " + what);
}

caf::error check_options(const source_spec& spec, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : spec.options) {
    if (key == "limit" || std::find(known.begin(), known.end(), key) != known.end())
      continue;
    std::string list;
    for (auto k : known)
      list += std::string{k} + ", ";
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option '" + key + "': not known to the " + spec.kind +
                            " reader; use one of: " + list + "limit");
  }
  return {};
}

std::optional<std::string> find_option(const source_spec& spec, const std::string& key) {
  if (auto i = spec.options.find(key); i != spec.options.end())
    return i->second;
  return std::nullopt;
}

std::string option_or(const source_spec& spec, const std::string& key, std::string fallback) {
  auto value = find_option(spec, key);
  return value ? *value : std::move(fallback);
}

caf::expected<bool> bool_option(const source_spec& spec, const std::string& key, bool fallback) {
  auto value = find_option(spec, key);
  if (!value)
    return fallback;
  std::string v = *value;
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "true" || v == "yes" || v == "on" || v == "1")
    return true;
  if (v == "false" || v == "no" || v == "off" || v == "0")
    return false;
  return reader_error(error_code::bad_config, spec, spec.path,
                      "option '" + key + "': '" + *value + "' is not a boolean; use true or false");
}

caf::expected<uint64_t> record_limit(const source_spec& spec) {
  auto option = uint_option(spec, "limit", 0);
  if (!option)
    return option;
  if (*option == 0 || spec.limit == 0)
    return std::max(*option, spec.limit);
  return std::min(*option, spec.limit);
}

caf::expected<uint64_t> checked_record_limit(const source_spec& spec,
                                             std::initializer_list<std::string_view> known) {
  if (auto err = check_options(spec, known))
    return err;
  return record_limit(spec);
}

caf::expected<uint64_t> uint_option(const source_spec& spec, const std::string& key,
                                    uint64_t fallback) {
  auto value = find_option(spec, key);
  if (!value)
    return fallback;
  uint64_t out = 0;
  const char* first = value->data();
  const char* last = first + value->size();
  auto [end, ec] = std::from_chars(first, last, out);
  if (ec != std::errc{} || end != last || value->empty())
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option '" + key + "': '" + *value +
                            "' is not a non-negative integer; write a number such as 1000");
  return out;
}

} // namespace llmos::dataset
