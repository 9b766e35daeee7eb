// msgpack-RPC `send` from a benchmark to a node process it started: the reply as JSON, or
// {"error": ...} (so a failed step is printed, not thrown).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace llmos::bench {

/// Calls `send` with `params` ([ACTOR, METHOD, {k: v}]) on 127.0.0.1:RPC.
nlohmann::json call(uint16_t rpc, const nlohmann::json& params,
                    std::chrono::seconds timeout = std::chrono::seconds(900));

/// The shell command that runs `node_path` on DIR/topology.yaml as node `node` with `extra`
/// options, its output in DIR/node.log (node a) or DIR/node-NAME.log (for a child_process of
/// /bin/sh -c).
std::string node_command(const std::string& node_path, const std::filesystem::path& dir,
                         const std::string& node = "a", const std::string& extra = "");

/// DIR/spam.yaml: the example SpamAssassin pipeline with its store in DIR/store.
void write_spam_pipeline(const std::filesystem::path& dir);

/// True once `probe` ([ACTOR, METHOD, {k: v}]) answers without an error: a started node is up.
/// Polled every 100 ms for up to 20 s.
bool wait_until_answers(uint16_t rpc, const nlohmann::json& probe);

} // namespace llmos::bench
