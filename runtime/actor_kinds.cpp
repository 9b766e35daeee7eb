#include "llmos/runtime/actor_kinds.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"

namespace llmos {

namespace {

bool is_integer(const std::string& text) {
  std::size_t start = 0;
  if (!text.empty() && (text[0] == '+' || text[0] == '-'))
    start = 1;
  if (start == text.size())
    return false;
  if (!std::all_of(text.begin() + static_cast<std::ptrdiff_t>(start), text.end(),
                   [](unsigned char c) { return std::isdigit(c) != 0; }))
    return false;
  // Digits alone are not enough: a spawner converts with stoll, which must not overflow.
  errno = 0;
  std::strtoll(text.c_str(), nullptr, 10);
  return errno != ERANGE;
}

bool is_number(const std::string& text) {
  // strtod skips leading blanks and accepts "nan"/"inf"; neither is a number a user meant.
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) != 0)
    return false;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(value);
}

/// "true"/"false" for the spellings YAML users write, "" for anything else.
std::string normalise_boolean(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "yes" || lower == "1")
    return "true";
  if (lower == "false" || lower == "no" || lower == "0")
    return "false";
  return "";
}

std::string with_help(const config_field& field) {
  return field.help.empty() ? std::string{} : " (" + field.key + ": " + field.help + ")";
}

/// Type-checks `value` and rewrites it in canonical form; returns "" when it is fine, else the
/// text that follows "config key 'K' " in the error.
std::string check_value(const config_field& field, std::string& value) {
  switch (field.type) {
  case config_type::string:
  case config_type::path:
    break;
  case config_type::integer:
    if (!is_integer(value))
      return "must be an integer, got '" + value + "'; write digits such as 4" + with_help(field);
    break;
  case config_type::number:
    if (!is_number(value))
      return "must be a number, got '" + value + "'; write e.g. 0.5 or 1e-3" + with_help(field);
    break;
  case config_type::boolean: {
    auto canonical = normalise_boolean(value);
    if (canonical.empty())
      return "must be a boolean, got '" + value + "'; write true or false" + with_help(field);
    value = std::move(canonical);
    break;
  }
  }
  if (!field.choices.empty() &&
      std::find(field.choices.begin(), field.choices.end(), value) == field.choices.end())
    return "must be one of " + join_words(field.choices) + ", got '" + value + "'; " +
           did_you_mean(value, field.choices) + "pick one of those" + with_help(field);
  return "";
}

} // namespace

void actor_kind_table::add(actor_kind kind) {
  auto name = kind.name;
  kinds_.insert_or_assign(std::move(name), std::move(kind));
}

const actor_kind* actor_kind_table::find(const std::string& name) const {
  auto i = kinds_.find(name);
  return i == kinds_.end() ? nullptr : &i->second;
}

std::vector<std::string> actor_kind_table::names() const {
  std::vector<std::string> result;
  result.reserve(kinds_.size());
  for (const auto& entry : kinds_)
    result.push_back(entry.first); // std::map keeps them sorted
  return result;
}

caf::expected<std::map<std::string, std::string>>
actor_kind_table::validate(const std::string& kind,
                           const std::map<std::string, std::string>& config) const {
  const auto* entry = find(kind);
  if (entry == nullptr) {
    auto known = names();
    return make_llmos_error(error_code::unknown_kind,
                            "actor kind '" + kind + "' is not known; " + did_you_mean(kind, known) +
                                "known kinds: " + (known.empty() ? "(none)" : join_words(known)));
  }
  std::vector<std::string> keys;
  for (const auto& field : entry->fields)
    keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  std::map<std::string, std::string> result;
  for (const auto& [key, value] : config) {
    auto field = std::find_if(entry->fields.begin(), entry->fields.end(),
                              [&key = key](const config_field& f) { return f.key == key; });
    if (field == entry->fields.end())
      return make_llmos_error(error_code::bad_config,
                              "config key '" + key + "' is not known by kind '" + kind + "'; " +
                                  did_you_mean(key, keys) +
                                  "known keys: " + (keys.empty() ? "(none)" : join_words(keys)));
    auto checked = value;
    if (auto problem = check_value(*field, checked); !problem.empty())
      return make_llmos_error(error_code::bad_config, "config key '" + key + "' " + problem);
    result.emplace(key, std::move(checked));
  }
  for (const auto& field : entry->fields) {
    if (result.count(field.key) != 0)
      continue;
    if (field.required)
      return make_llmos_error(error_code::bad_config,
                              "config key '" + field.key + "' is required by kind '" + kind +
                                  "'; add it to the config" + with_help(field));
    if (!field.default_value.empty())
      result.emplace(field.key, field.default_value);
  }
  return result;
}

caf::expected<long long> config_integer(const std::map<std::string, std::string>& config,
                                        const std::string& key, long long lo, long long hi) {
  const auto i = config.find(key);
  if (i == config.end())
    return make_llmos_error(error_code::bad_config, "config key '" + key + "' is missing");
  const auto& text = i->second;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE)
    return make_llmos_error(error_code::bad_config,
                            "config key '" + key + "' must be an integer, got '" + text + "'");
  if (v < lo || v > hi)
    return make_llmos_error(error_code::bad_config, "config key '" + key + "' must be from " +
                                                        std::to_string(lo) + " to " +
                                                        std::to_string(hi) + ", got " + text);
  return v;
}

} // namespace llmos
