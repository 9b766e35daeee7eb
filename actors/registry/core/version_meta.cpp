#include "registry/core/version_meta.hpp"

#include <ctime>

#include <xxhash.h>

#include "llmos/messages/error.hpp"
#include "registry/core/stamped_json.hpp"

namespace llmos::registry {
namespace {

// Bumped when meta.json changes shape, so that an older reader refuses instead of misreading.
constexpr int meta_format = 1;

caf::error bad_meta(const std::filesystem::path& file, const std::string& what) {
  return make_llmos_error(error_code::bad_config, "'" + file.string() + "' is corrupt: " + what +
                                                      "; restore the file or remove this version");
}

bool is_hex_digest(const nlohmann::json& j) {
  if (!j.is_string())
    return false;
  const auto& s = j.get_ref<const std::string&>();
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

std::string xxh3_hex(std::string_view bytes) {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(bytes.data(), bytes.size()));
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof canon.digest);
  for (unsigned char b : canon.digest) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  return out;
}

nlohmann::json to_json(const version_meta& meta) {
  return {{"format", meta_format},
          {"name", meta.name},
          {"version", meta.version},
          {"created", meta.created},
          {"metrics", meta.metrics},
          {"lineage", meta.lineage},
          {"weights_bytes", meta.weights_bytes},
          {"weights_xxh3", meta.weights_xxh3},
          {"tokenizer_xxh3", meta.tokenizer_xxh3},
          {"spec_xxh3", meta.spec_xxh3}};
}

caf::expected<version_meta> parse_version_meta(std::string_view text,
                                               const std::filesystem::path& file) {
  nlohmann::json j;
  if (auto why = parse_stamped(text, meta_format, j); !why.empty())
    return bad_meta(file, why);
  if (!j.contains("name") || !j["name"].is_string())
    return bad_meta(file, "field 'name' must be a string");
  if (!j.contains("version") || !is_version_number(j["version"]))
    return bad_meta(file, "field 'version' must be a number from 1");
  if (!j.contains("created") || !j["created"].is_string())
    return bad_meta(file, "field 'created' must be a string");
  for (const char* key : {"metrics", "lineage"})
    if (!j.contains(key) || !j[key].is_object())
      return bad_meta(file, std::string{"field '"} + key + "' must be an object");
  if (!j.contains("weights_bytes") || !j["weights_bytes"].is_number_unsigned())
    return bad_meta(file, "field 'weights_bytes' must be a byte count");
  for (const char* key : {"weights_xxh3", "tokenizer_xxh3", "spec_xxh3"})
    if (!j.contains(key) || !is_hex_digest(j[key]))
      return bad_meta(file, std::string{"field '"} + key + "' must be 32 hex digits");
  version_meta meta;
  meta.name = j["name"].get<std::string>();
  meta.version = j["version"].get<uint32_t>();
  meta.created = j["created"].get<std::string>();
  meta.metrics = j["metrics"];
  meta.lineage = j["lineage"];
  meta.weights_bytes = j["weights_bytes"].get<uint64_t>();
  meta.weights_xxh3 = j["weights_xxh3"].get<std::string>();
  meta.tokenizer_xxh3 = j["tokenizer_xxh3"].get<std::string>();
  meta.spec_xxh3 = j["spec_xxh3"].get<std::string>();
  return meta;
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

} // namespace llmos::registry
