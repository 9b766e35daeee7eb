// msgpack-RPC `send` from a benchmark to a node process it started: the reply as JSON, or
// {"error": ...} (so a failed step is printed, not thrown).
#pragma once

#include <chrono>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace llmos::bench {

/// Calls `send` with `params` ([ACTOR, METHOD, {k: v}]) on 127.0.0.1:RPC.
nlohmann::json call(uint16_t rpc, const nlohmann::json& params,
                    std::chrono::seconds timeout = std::chrono::seconds(900));

} // namespace llmos::bench
