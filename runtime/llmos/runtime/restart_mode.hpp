// The restart policies an actor can have (topology key `restart`, or a `restart` key given to
// spawn): one spelling for the topology parser and the node that applies them
// (actors/node_manager/restart_policy.hpp).
#pragma once

#include <string>

#include <caf/expected.hpp>

namespace llmos {

enum class restart_mode { always, on_failure, never };

/// "always", "on-failure" or "never"; bad_config names the value otherwise.
caf::expected<restart_mode> parse_restart_mode(const std::string& text);

std::string to_string(restart_mode mode);

} // namespace llmos
