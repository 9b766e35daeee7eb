// The topology file's parser: one parse's state (the document's source folder, the nodes and
// ports read so far) and its readers, which refuse with the line and a fix. Its readers live in
// topology_nodes.cpp (nodes, devices, actors and their configs, ports) and topology_cluster.cpp
// (seed, secrets, timing, TLS). Internal to the runtime: the public entry is parse_topology().
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "llmos/runtime/actor_kinds.hpp"
#include "llmos/runtime/topology.hpp"
#include "llmos/runtime/yaml_fields.hpp"

namespace llmos::topology_detail {

using yaml_fields::entries;
using yaml_fields::entry;

/// Reads and checks one topology document; all state of one parse lives here.
class topology_parser {
public:
  topology_parser(const std::string& source, const actor_kind_table& kinds);

  topology parse(const YAML::Node& root);

private:
  void read_nodes(const entry& e);

  void read_node(const YAML::Node& item);

  std::vector<std::string> read_devices(const entry& e, const std::string& where);

  void read_actors(const entry& e, node_spec& node);

  actor_spec read_actor(const YAML::Node& item, const std::string& node);

  /// A name unique across the cluster that does not end like the runtime's own actors.
  std::string read_actor_name(const entries& map, int line);

  /// A registered kind; an unknown one is answered with the closest known name.
  std::string read_kind(const entries& map, int line, const std::string& where,
                        const std::string& node);

  /// The config, checked against the kind's schema; its paths made relative to the topology.
  void read_checked_config(const entries& map, const std::string& where, actor_spec& actor);

  static std::string describe_error(const caf::error& err);

  std::map<std::string, std::string> read_config(const entry& e, const std::string& where,
                                                 std::map<std::string, int>& key_lines,
                                                 int& config_line);

  /// port and rpc_port share one namespace per host: both are listening sockets.
  void check_ports() const;

  void read_seed(const entry* e);

  void read_auth(const entry* token, const entry* file);

  /// The node port's shared secret (TLS-PSK under CAF's OpenSSL module): long enough not to be
  /// guessed, and not beside certificates, which authenticate nodes already.
  void read_cluster_secret(const entry* inline_secret, const entry* file);

  /// A value given inline (`KEY`) or in a file (`KEY_file`, read at once and trimmed), never
  /// both; an inline value of "" means none.
  std::string read_inline_or_file(const entry* value, const entry* file) const;

  void read_timing(const entry* heartbeat, const entry* lost);

  void read_tls(const entry& e);

  void read_rpc_tls(const entry& e);

  /// A path relative to the topology file's folder, made absolute so that it still holds
  /// after a process changes directory.
  std::string resolve(const entry& e) const;

  /// One listening socket a node asks for.
  struct port_use {
    std::string host;
    uint16_t port;
    int line;
    std::string node;
    std::string key; ///< "port" or "rpc_port"
  };

  const actor_kind_table& kinds_;
  std::filesystem::path base_dir_;
  topology result_;
  std::vector<port_use> ports_;
  std::map<std::string, int> actor_lines_; ///< actor name -> line of its name
};

} // namespace llmos::topology_detail
