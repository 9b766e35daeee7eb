// Which HTTP routes need the gateway's bearer token. Admin routes always do; serving routes are
// open by default (the loopback default of a node) and can be closed per group with the
// gateway's `protect` key, for a gateway that listens where others reach it:
//   protect: predict,completions,feedback     (or: all)
// Groups: predict (…:predict), completions (/v1/completions, /v1/chat/completions), feedback
// (/v1/feedback), models (the model list and one model), observe (/metrics, /v1/alerts, the
// dashboard), labels (/v1/datasets/...: the review queue and people's labels). /healthz and /readyz
// stay open for load balancers and supervisors.
#pragma once

#include <optional>
#include <set>
#include <string>

#include <caf/expected.hpp>

namespace llmos::http {

/// The group a request belongs to: "admin", one of the groups above, or "" (always open).
std::string route_group(const std::string& path);

/// The groups named by a `protect` value ("" = none); an unknown name is refused by name.
caf::expected<std::set<std::string>> parse_protected_groups(const std::string& value);

} // namespace llmos::http
