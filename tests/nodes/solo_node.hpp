// One llmos-node process from a topology the test writes: the setup the single-node process
// tests (scheduler, tuner, feedback) share. The topology has short heartbeats and node "a" on
// loopback ports, with a CPU device actor and the test's own actor lines.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_harness.hpp"

namespace llmos::test {

/// A YAML entry of a topology's `nodes:` list: `name` on loopback `port` and `rpc`, a CPU device
/// actor "cpu-NAME" with `threads` threads (none when 0), then the `actors` lines (each
/// "      - {...}\n").
std::string node_entry(const std::string& name, uint16_t port, uint16_t rpc, int threads,
                       const std::string& actors);

/// Starts node `name` of the topology file `topology` (with more llmos-node `args`), its
/// output in NAME.log beside the file.
child_process start_node(const std::filesystem::path& topology, const std::string& name,
                         const std::vector<std::string>& args = {});

/// Starts node `name` of `topology`, waits until its log says `text`, then stops it (SIGTERM);
/// for settings a node must refuse by name.
testing::AssertionResult node_says(const std::filesystem::path& topology, const std::string& name,
                                   const std::string& text,
                                   std::chrono::seconds timeout = std::chrono::seconds(20));

/// Node "a" alone: DIR/topology.yaml (cluster `cluster`) written and the node started.
class solo_node {
public:
  /// `ports`: at least the node's port and its RPC port (free_ports(2) or more, the rest for
  /// the caller's actors).
  solo_node(const temp_dir& dir, const std::string& cluster, const std::vector<uint16_t>& ports,
            int threads, const std::string& actors);

  /// Waits until the gateway answers ping (or the process has exited).
  testing::AssertionResult up(std::chrono::seconds timeout = std::chrono::seconds(15));

  std::string log() const { return read_file(log_file_); }
  child_process& process() { return process_; }

  const uint16_t rpc;

private:
  std::filesystem::path log_file_;
  child_process process_;
};

} // namespace llmos::test
