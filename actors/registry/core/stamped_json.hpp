// The registry's own JSON files (a version's meta.json, a model's aliases.json) are objects that
// open with a 'format' number, bumped when their shape changes so that an older reader refuses
// instead of misreading. The checks their readers share live here, so that they refuse alike.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace llmos::registry {

/// Parses `text` into `out`; "" when it is a JSON object whose field 'format' is `format`, else
/// what is wrong ("not a JSON object", "field 'format' must be N") for the caller's refusal,
/// which names the file and what to do.
std::string parse_stamped(std::string_view text, int format, nlohmann::json& out);

/// Whether `j` is a version number: a whole number from 1 to 4294967295.
bool is_version_number(const nlohmann::json& j);

} // namespace llmos::registry
