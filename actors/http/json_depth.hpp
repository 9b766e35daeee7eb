// How deeply a JSON text nests, found without parsing it. A body of half a million '[' fits in
// the 1 MiB limit, parses (nlohmann's parser keeps its own stack) and then overflows the thread's
// stack in every recursive walk of the tree (dump(), the analyst's field checks): bodies nested
// beyond a limit are refused before they are parsed.
#pragma once

#include <cstddef>
#include <string_view>

namespace llmos::http {

/// True when no array or object in `text` opens more than `limit` levels deep (brackets inside
/// strings, escaped quotes included, do not count). Malformed text is the parser's business.
bool json_depth_within(std::string_view text, std::size_t limit);

/// The nesting HTTP bodies may have: far beyond any request's shape.
constexpr std::size_t max_json_depth = 64;

} // namespace llmos::http
