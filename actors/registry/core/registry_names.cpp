#include "registry/core/registry_names.hpp"

#include <algorithm>

#include "llmos/messages/error.hpp"

namespace llmos::registry {
namespace {

constexpr std::size_t max_name_length = 64;
constexpr const char* name_rule =
    "use 1-64 characters from A-Z a-z 0-9 . _ - starting with a letter or digit";

bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "3", "v3", "V3", "003": the shapes a user types for a version number.
bool looks_like_version(const std::string& s) {
  const std::size_t start = !s.empty() && (s[0] == 'v' || s[0] == 'V') ? 1 : 0;
  return s.size() > start && std::all_of(s.begin() + start, s.end(), is_digit);
}

} // namespace

bool is_valid_name(const std::string& s) {
  return !s.empty() && s.size() <= max_name_length && is_alnum(s.front()) &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

caf::expected<void> check_model_name(const std::string& name) {
  if (!is_valid_name(name))
    return make_llmos_error(error_code::bad_params,
                            "model name '" + name + "' is invalid: " + name_rule);
  return {};
}

caf::expected<void> check_alias_name(const std::string& alias) {
  if (!is_valid_name(alias))
    return make_llmos_error(error_code::bad_params,
                            "alias name '" + alias + "' is invalid: " + name_rule);
  // Such aliases could never be resolved: resolve() reads them as versions first.
  if (alias == latest_ref || looks_like_version(alias))
    return make_llmos_error(error_code::bad_params,
                            "alias name '" + alias +
                                "' is reserved: 'latest' and version numbers like '3' or 'v3' "
                                "are already references; choose another name, e.g. 'prod'");
  return {};
}

caf::expected<std::optional<uint32_t>> parse_version_ref(const std::string& ref) {
  if (!looks_like_version(ref))
    return std::optional<uint32_t>{};
  const auto digits = ref.substr(ref[0] == 'v' || ref[0] == 'V' ? 1 : 0);
  uint64_t value = 0;
  for (char c : digits) {
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > UINT32_MAX)
      return make_llmos_error(error_code::bad_params,
                              "version '" + ref + "' is out of range (at most 4294967295)");
  }
  if (value == 0)
    return make_llmos_error(error_code::bad_params,
                            "version '" + ref + "' does not exist: versions count from 1");
  return std::optional<uint32_t>{static_cast<uint32_t>(value)};
}

std::string version_dir_name(uint32_t version) {
  return "v" + std::to_string(version);
}

std::optional<uint32_t> parse_version_dir_name(const std::string& name) {
  // Only the canonical spelling counts, so that "v03" beside "v3" cannot make one version twice.
  if (name.size() < 2 || name[0] != 'v' || name[1] == '0')
    return std::nullopt;
  auto parsed = parse_version_ref(name);
  if (!parsed || !*parsed)
    return std::nullopt;
  return **parsed;
}

std::string quoted_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

} // namespace llmos::registry
