// A cluster of llmos-node processes on loopback for the multi-process tests. It writes one
// topology file per node into a temporary folder (free ports, one CPU device actor per node,
// short heartbeats), starts and kills the node processes, and talks to their gateways through
// `llmos-repl --json`, as a user would. On a failed test it prints every node's log.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "process_helper.hpp"

namespace llmos::test {

/// Path of a built program (llmos-node, llmos-repl, ...).
std::string program(const std::string& name);

/// What `llmos-repl --json` printed: one JSON value per command, `{"error": {...}}` for a
/// failed one.
struct repl_result {
  int exit_code = -1;
  std::vector<nlohmann::json> lines;
  std::string err; ///< stderr

  /// Line `i`, or null when there is none.
  const nlohmann::json& line(std::size_t i) const;
  /// The error code of line `i` ("" when it is not an error).
  std::string error_code(std::size_t i) const;
};

/// Runs `llmos-repl 127.0.0.1:PORT --json [extra...] -c CMD...`.
repl_result run_repl(uint16_t rpc_port, const std::vector<std::string>& commands,
                     const std::vector<std::string>& extra_args = {});

/// Writes DIR/records.jsonl, `count` labelled records a bag of bytes learns in a few dozen steps
/// (the labels follow the words), and DIR/pipeline.yaml, the data set "words" over them (byte
/// tokenizer, 80/20 split).
void write_words_dataset(const std::filesystem::path& dir, int count);

/// Heartbeat settings of the tests: lost after 1 s of silence.
inline const std::string fast_heartbeat = "heartbeat_ms: 200\nlost_after_ms: 1000\n";

/// True when a gateway answers ping on 127.0.0.1:PORT.
bool rpc_ping(uint16_t rpc_port);

/// True once GET /readyz on 127.0.0.1:PORT answers 200 (every served model has a replica),
/// asking every `every` for at most `within`.
bool http_ready(uint16_t http_port, std::chrono::seconds within,
                std::chrono::milliseconds every = std::chrono::milliseconds(100));

/// Calls msgpack-RPC `method` (send, spawn, stop, ...) with positional `params` as JSON;
/// failures come back as {"error": ...}.
nlohmann::json rpc_call(uint16_t rpc_port, const std::string& method, const nlohmann::json& params,
                        std::chrono::seconds timeout = std::chrono::seconds(120));

/// Calls msgpack-RPC `send` with `params` ([ACTOR, METHOD, {k: v}]) as JSON; failures come back
/// as {"error": ...}.
nlohmann::json rpc_send(uint16_t rpc_port, const nlohmann::json& params,
                        std::chrono::seconds timeout = std::chrono::seconds(120));

class cluster {
public:
  /// Nodes `names` (the first is the seed), each hosting a device actor "cpu-NAME", with free
  /// ports and `top_level` YAML (heartbeats, auth_token, ...) in every node's file.
  cluster(const std::string& tag, std::vector<std::string> names,
          std::string top_level = fast_heartbeat);
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// Top-level YAML only `node`'s own topology file gets (its `tls:` section, say).
  void set_node_top_level(const std::string& node, std::string yaml);

  /// Options `node`'s llmos-node gets after --topology and --node ("--rpc-nice", "10").
  void set_node_args(const std::string& node, std::vector<std::string> args) {
    node_args_[node] = std::move(args);
  }

  /// Writes `node`'s topology file and returns its path.
  std::filesystem::path write_topology(const std::string& node) const;

  /// Starts every node and waits until each answers ping. Picks new ports and tries again
  /// (three times) when a port was taken between choosing it and binding it.
  testing::AssertionResult start_all();

  /// Starts one node and waits (10 s) until its gateway answers ping.
  testing::AssertionResult start(const std::string& node);

  /// Sends `sig` to a node and waits for it to exit.
  void stop(const std::string& node, int sig = SIGKILL);

  /// The process of a node (started or not).
  child_process& process(const std::string& node) { return procs_[node]; }

  uint16_t port(const std::string& node) const { return ports_.at(node).first; }
  uint16_t rpc_port(const std::string& node) const { return ports_.at(node).second; }
  const std::vector<std::string>& names() const { return names_; }
  const temp_dir& dir() const { return dir_; }

  /// Runs commands through `node`'s gateway.
  repl_result repl(const std::string& node, const std::vector<std::string>& commands) const;

  /// `nodes` as `from` answers it: node name -> state ("self", "connecting", "up", "lost");
  /// empty when `from` does not answer.
  std::map<std::string, std::string> states(const std::string& from) const;

  /// `nodes` as `from` answers it: node name -> milliseconds in its current state.
  std::map<std::string, int64_t> since_ms(const std::string& from) const;

  /// Names of the actors `actors` lists through `from` (of `node` only when not empty); nothing
  /// when the call fails.
  std::set<std::string> actor_names(const std::string& from, const std::string& node = "") const;

  /// Waits up to `timeout` until `from` sees `of` in `state`.
  bool wait_for_state(const std::string& from, const std::string& of, const std::string& state,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  /// The node's stdout and stderr so far.
  std::string log(const std::string& node) const;

private:
  void pick_ports();

  temp_dir dir_;
  std::vector<std::string> names_;
  std::string top_level_;
  std::map<std::string, std::string> node_top_level_;
  std::map<std::string, std::vector<std::string>> node_args_;
  std::map<std::string, std::pair<uint16_t, uint16_t>> ports_; ///< name -> (port, rpc_port)
  std::map<std::string, child_process> procs_;
};

} // namespace llmos::test
