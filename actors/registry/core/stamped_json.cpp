#include "registry/core/stamped_json.hpp"

#include <cstdint>

namespace llmos::registry {

std::string parse_stamped(std::string_view text, int format, nlohmann::json& out) {
  out = nlohmann::json::parse(text, nullptr, false);
  if (out.is_discarded() || !out.is_object())
    return "not a JSON object";
  if (!out.contains("format") || out["format"] != format)
    return "field 'format' must be " + std::to_string(format);
  return "";
}

bool is_version_number(const nlohmann::json& j) {
  return j.is_number_unsigned() && j != 0 && j.get<uint64_t>() <= UINT32_MAX;
}

} // namespace llmos::registry
