#include "serving/core/adapter_list.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/text.hpp"

namespace llmos::serving {
namespace {

/// A registry name or version reference: what the directory and the registry accept.
bool is_name(const std::string& s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string trimmed(const std::string& s) {
  return std::string{text::trim(s, " ")};
}

} // namespace

caf::expected<std::vector<std::string>> parse_adapters(const std::string& text,
                                                       const std::string& model) {
  std::vector<std::string> out;
  if (trimmed(text).empty())
    return out;
  std::set<std::string> names;
  auto refuse = [](const std::string& why) {
    return make_llmos_error(error_code::bad_config, "config key 'adapters': " + why);
  };
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const auto entry = trimmed(text.substr(start, comma - start));
    const auto at = entry.find('@');
    const auto name = entry.substr(0, at);
    if (!is_name(name) || (at != std::string::npos && !is_name(entry.substr(at + 1))))
      return refuse("entry '" + entry +
                    "' is not NAME or NAME@VERSION (letters, digits, '_', '-', '.')");
    if (name == model)
      return refuse("'" + name + "' is the served model itself");
    if (!names.insert(name).second)
      return refuse("'" + name + "' is listed twice");
    if (out.size() == 64)
      return refuse("64 adapters at most");
    out.push_back(entry);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

std::string adapter_name(const std::string& ref) {
  return ref.substr(0, ref.find('@'));
}

} // namespace llmos::serving
