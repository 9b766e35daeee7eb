// The topology's nodes: names, hosts, ports (one listening socket each per host), devices, and
// the actors each node runs, their kinds and configs checked against the kinds' schemas.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/restart_mode.hpp"
#include "llmos/runtime/suggest.hpp"
#include "topology_parser.hpp"

namespace llmos::topology_detail {

namespace fs = std::filesystem;
using namespace yaml_fields;

namespace {

bool is_valid_device(const std::string& device) {
  if (device == "cpu")
    return true;
  const std::string prefix = "cuda:";
  return device.size() > prefix.size() && device.compare(0, prefix.size(), prefix) == 0 &&
         std::all_of(device.begin() + static_cast<std::ptrdiff_t>(prefix.size()), device.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Names reach the command line and the directory, where the runtime adds these suffixes for
// its own actors ("alpha.manager"); an actor with such a name would shadow a system actor.
const std::vector<std::string> reserved_suffixes{".manager", ".directory", ".gateway"};

} // namespace

topology_parser::topology_parser(const std::string& source, const actor_kind_table& kinds)
    : kinds_(kinds) {
  result_.source = source;
  // parent_path of "<text>" or "cluster.yaml" is empty: such sources are relative to cwd.
  const auto parent = fs::path(source).parent_path();
  base_dir_ = parent.empty() ? fs::current_path() : fs::absolute(parent);
}

topology topology_parser::parse(const YAML::Node& root) {
  auto top =
      read_map(root,
               {"cluster", "seed", "auth_token", "auth_token_file", "cluster_secret",
                "cluster_secret_file", "heartbeat_ms", "lost_after_ms", "tls", "rpc_tls", "nodes"},
               "the top level");
  if (auto e = get(top, "cluster"))
    result_.cluster = read_name(*e);
  auto nodes = get(top, "nodes");
  if (nodes == nullptr)
    refuse(line_of(root), "the file has no 'nodes' list; add 'nodes:' with at least one "
                          "entry such as '- {name: alpha, port: 4100}'");
  read_nodes(*nodes);
  read_seed(get(top, "seed"));
  read_auth(get(top, "auth_token"), get(top, "auth_token_file"));
  read_timing(get(top, "heartbeat_ms"), get(top, "lost_after_ms"));
  if (auto e = get(top, "tls"))
    read_tls(*e);
  if (auto e = get(top, "rpc_tls"))
    read_rpc_tls(*e);
  read_cluster_secret(get(top, "cluster_secret"), get(top, "cluster_secret_file"));
  return std::move(result_);
}

void topology_parser::read_nodes(const entry& e) {
  if (!e.value.IsSequence() || e.value.size() == 0)
    refuse(e.line, "'nodes' must be a non-empty list of nodes, but it is " +
                       (e.value.IsSequence() ? std::string{"an empty list"} : kind_of(e.value)) +
                       "; write one '- name: ...' entry per node");
  for (const auto& item : e.value)
    read_node(item);
  check_ports();
}

void topology_parser::read_node(const YAML::Node& item) {
  node_spec node;
  node.line = line_of(item);
  if (!item.IsMap())
    refuse(node.line, "each entry of 'nodes' must be a map such as "
                      "'- {name: alpha, port: 4100}', but this one is not");
  auto map = read_map(item, {"name", "host", "port", "rpc_port", "devices", "actors"}, "a node");
  auto name = get(map, "name");
  if (name == nullptr)
    refuse(node.line, "this node has no 'name'; add e.g. 'name: alpha'");
  node.name = read_name(*name);
  if (auto prev = result_.find_node(node.name))
    refuse(name->line, "node name '" + node.name + "' is already used at line " +
                           std::to_string(prev->line) + "; give every node its own name");
  const std::string where = "node '" + node.name + "'";
  if (auto e = get(map, "host")) {
    node.host = read_string(*e);
    if (node.host.empty() || std::any_of(node.host.begin(), node.host.end(),
                                         [](unsigned char c) { return std::isspace(c) != 0; }))
      refuse(e->line, "'host' of " + where + " is '" + node.host +
                          "'; write a host name or address such as 127.0.0.1");
  }
  auto port = get(map, "port");
  if (port == nullptr)
    refuse(node.line, where + " has no 'port'; add 'port: N' with N between 1 and 65535");
  node.port = static_cast<uint16_t>(
      read_unsigned(*port, 1, 65535, "pick a free TCP port for node-to-node traffic"));
  ports_.push_back({node.host, node.port, port->line, node.name, "port"});
  if (auto e = get(map, "rpc_port")) {
    node.rpc_port = static_cast<uint16_t>(
        read_unsigned(*e, 0, 65535, "pick a free TCP port for clients, or 0 for none"));
    if (node.rpc_port != 0)
      ports_.push_back({node.host, node.rpc_port, e->line, node.name, "rpc_port"});
  }
  if (auto e = get(map, "devices"))
    node.devices = read_devices(*e, where);
  if (auto e = get(map, "actors"))
    read_actors(*e, node);
  result_.nodes.push_back(std::move(node));
}

std::vector<std::string> topology_parser::read_devices(const entry& e, const std::string& where) {
  if (!e.value.IsSequence() || e.value.size() == 0)
    refuse(e.line, "'devices' of " + where + " must be a non-empty list, but it is " +
                       (e.value.IsSequence() ? std::string{"an empty list"} : kind_of(e.value)) +
                       "; write e.g. 'devices: [cpu, \"cuda:0\"]'");
  std::vector<std::string> devices;
  for (const auto& item : e.value) {
    const std::string device = item.IsScalar() ? item.Scalar() : std::string{};
    if (!is_valid_device(device))
      refuse(line_of(item), "device '" + device + "' of " + where +
                                " is not valid; write 'cpu' or 'cuda:N' with N the GPU index");
    if (std::find(devices.begin(), devices.end(), device) != devices.end())
      refuse(line_of(item),
             "device '" + device + "' is listed twice for " + where + "; list each device once");
    devices.push_back(device);
  }
  return devices;
}

void topology_parser::read_actors(const entry& e, node_spec& node) {
  if (e.value.IsNull())
    return; // "actors:" with every entry commented out
  if (!e.value.IsSequence())
    refuse(e.line, "'actors' of node '" + node.name + "' must be a list, but it is " +
                       kind_of(e.value) + "; write one '- name: ...' entry per actor");
  for (const auto& item : e.value)
    node.actors.push_back(read_actor(item, node.name));
}

actor_spec topology_parser::read_actor(const YAML::Node& item, const std::string& node) {
  actor_spec actor;
  actor.line = line_of(item);
  if (!item.IsMap())
    refuse(actor.line, "each entry of 'actors' must be a map such as "
                       "'- {name: cpu0, kind: device}', but this one is not");
  auto map = read_map(item, {"name", "kind", "config", "restart"}, "an actor");
  actor.name = read_actor_name(map, actor.line);
  const std::string where = "actor '" + actor.name + "'";
  actor.kind = read_kind(map, actor.line, where, node);
  if (auto restart = get(map, "restart")) {
    actor.restart = read_string(*restart);
    if (!parse_restart_mode(actor.restart))
      refuse(restart->line,
             where + ": restart is '" + actor.restart + "'; use always, on-failure or never");
  }
  read_checked_config(map, where, actor);
  return actor;
}

std::string topology_parser::read_actor_name(const entries& map, int line) {
  auto entry = get(map, "name");
  if (entry == nullptr)
    refuse(line, "this actor has no 'name'; add e.g. 'name: cpu0'");
  auto name = read_name(*entry);
  for (const auto& suffix : reserved_suffixes)
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      refuse(entry->line, "actor name '" + name + "' ends in '" + suffix +
                              "', which the runtime reserves for its own actors; rename it");
  if (auto prev = actor_lines_.find(name); prev != actor_lines_.end())
    refuse(entry->line, "actor name '" + name + "' is already used at line " +
                            std::to_string(prev->second) +
                            "; actor names must be unique across the whole cluster");
  actor_lines_.emplace(name, entry->line);
  return name;
}

std::string topology_parser::read_kind(const entries& map, int line, const std::string& where,
                                       const std::string& node) {
  auto entry = get(map, "kind");
  if (entry == nullptr)
    refuse(line,
           where + " has no 'kind'; add 'kind: K' with K one of: " + join_words(kinds_.names()));
  auto kind = read_string(*entry);
  if (kinds_.find(kind) == nullptr) {
    auto known = kinds_.names();
    refuse(entry->line, "unknown actor kind '" + kind + "' for " + where + " on node '" + node +
                            "'; " + did_you_mean(kind, known) +
                            "known kinds: " + (known.empty() ? "(none)" : join_words(known)));
  }
  return kind;
}

void topology_parser::read_checked_config(const entries& map, const std::string& where,
                                          actor_spec& actor) {
  std::map<std::string, int> key_lines;
  int config_line = actor.line;
  if (auto e = get(map, "config"))
    actor.config = read_config(*e, where, key_lines, config_line);
  auto checked = kinds_.validate(actor.kind, actor.config);
  if (!checked) {
    // Point at the offending key when the message names one that was written down; a
    // missing required key points at the config (or the actor when there is none).
    const std::string text = describe_error(checked.error());
    int line = config_line;
    for (const auto& [key, key_line] : key_lines)
      if (text.rfind("config key '" + key + "'", 0) == 0)
        line = key_line;
    refuse(line, where + " (kind " + actor.kind + "): " + text);
  }
  actor.config = std::move(*checked);
  // Paths in a config mean what they mean next to the topology file, wherever the node runs.
  if (const auto* kind = kinds_.find(actor.kind))
    for (const auto& field : kind->fields)
      if (auto i = actor.config.find(field.key); field.type == config_type::path &&
                                                 i != actor.config.end() && !i->second.empty() &&
                                                 !fs::path{i->second}.is_absolute())
        i->second = (base_dir_ / i->second).lexically_normal().string();
}

std::string topology_parser::describe_error(const caf::error& err) {
  const auto& ctx = err.context();
  return ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0) : describe(err);
}

std::map<std::string, std::string>
topology_parser::read_config(const entry& e, const std::string& where,
                             std::map<std::string, int>& key_lines, int& config_line) {
  config_line = e.line;
  std::map<std::string, std::string> config;
  if (e.value.IsNull())
    return config;
  if (!e.value.IsMap())
    refuse(e.line, "'config' of " + where + " must be a map, but it is " + kind_of(e.value) +
                       "; write e.g. 'config: {threads: 1}'");
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    const int line = line_of(it->first);
    if (!it->first.IsScalar())
      refuse(line, "a config key of " + where + " is not a plain word; write 'key: value'");
    const std::string key = it->first.Scalar();
    if (key_lines.count(key) != 0)
      refuse(line, "config key '" + key + "' appears twice for " + where + " (also at line " +
                       std::to_string(key_lines[key]) + "); keep one of them");
    if (!it->second.IsScalar())
      refuse(line, "config key '" + key + "' of " + where + " must be a single value, but it is " +
                       kind_of(it->second) +
                       "; config values are plain text, numbers or "
                       "booleans");
    key_lines.emplace(key, line);
    config.emplace(key, it->second.Scalar());
  }
  return config;
}

void topology_parser::check_ports() const {
  std::map<std::pair<std::string, uint16_t>, const port_use*> taken;
  for (const auto& use : ports_) {
    auto [pos, fresh] = taken.emplace(std::make_pair(use.host, use.port), &use);
    if (!fresh)
      refuse(use.line, "port " + std::to_string(use.port) + " on host " + use.host +
                           " is already used by node '" + pos->second->node + "' (" +
                           pos->second->key + ", line " + std::to_string(pos->second->line) +
                           "); give every port and rpc_port on a host its own number");
  }
}

} // namespace llmos::topology_detail
