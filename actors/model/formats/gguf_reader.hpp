// The GGUF reader's in-memory entry point: the same parse read_gguf runs on a mapped file,
// given the bytes directly, so truncation and damage can be tried byte by byte without files.
#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "model/formats/llama_weights.hpp"

namespace llmos::model {

/// Parses a whole GGUF v3 llama file held in `bytes`; `where` names it in refusals (bad_config,
/// as read_gguf's). Leaves source, source_sha256 and format empty for the caller to fill.
caf::expected<llama_weights> parse_gguf(std::string_view bytes, const std::string& where);

} // namespace llmos::model
