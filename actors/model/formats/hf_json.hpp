// Loading the JSON files of a Hugging Face folder (config.json, tokenizer.json, the safetensors
// index) with the refusal every reader here gives: the file named, never an exception.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"

namespace llmos::model {

/// The JSON object in the file at `path`: io_failed when it cannot be read, bad_config
/// "PATH: not valid JSON (or not an object)" when it does not parse.
inline caf::expected<nlohmann::json> load_json_object(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_llmos_error(error_code::io_failed, path + ": cannot be opened for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return make_llmos_error(error_code::io_failed, path + ": read failed");
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_llmos_error(error_code::bad_config, path + ": not valid JSON (or not an object)");
  return j;
}

/// bad_config "PATH: field 'FIELD': WHAT".
inline caf::error refuse_field(const std::string& path, const std::string& field,
                               const std::string& what) {
  return make_llmos_error(error_code::bad_config, path + ": field '" + field + "': " + what);
}

} // namespace llmos::model
