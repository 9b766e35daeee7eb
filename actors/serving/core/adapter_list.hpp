// The `adapters` key of a language server: LoRA fine-tunes of its model served as adapters over
// it, as comma-separated registry references "NAME" (the latest version) or "NAME@VERSION" (a
// number or an alias). Requests name the fine-tune by NAME where they would name the model.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::serving {

/// The references in `text` (spaces around entries ignored), or bad_config naming the entry: an
/// empty or malformed one, a name twice, the server's own `model`, more than 64.
caf::expected<std::vector<std::string>> parse_adapters(const std::string& text,
                                                       const std::string& model);

/// The model name of a reference ("zorp@3" -> "zorp").
std::string adapter_name(const std::string& ref);

} // namespace llmos::serving
