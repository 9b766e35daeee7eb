// Loading the JSON files of a Hugging Face folder (config.json, tokenizer.json, the safetensors
// index) with the refusal every reader here gives: the file named, never an exception.
#pragma once

#include <string>
#include <utility>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "model/formats/file_bytes.hpp"

namespace llmos::model {

/// The JSON object in the file at `path`: io_failed when it cannot be read, bad_config
/// "PATH: not valid JSON (or not an object)" when it does not parse.
inline caf::expected<nlohmann::json> load_json_object(const std::string& path) {
  auto text = read_file_bytes(path);
  if (!text)
    return std::move(text.error());
  auto j = nlohmann::json::parse(*text, nullptr, false);
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
