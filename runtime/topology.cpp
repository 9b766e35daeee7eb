#include "llmos/runtime/topology.hpp"
#include "llmos/runtime/restart_mode.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"
#include "llmos/runtime/yaml_fields.hpp"

namespace llmos {

namespace fs = std::filesystem;

const node_spec* topology::find_node(const std::string& name) const {
  auto i = std::find_if(nodes.begin(), nodes.end(),
                        [&](const node_spec& node) { return node.name == name; });
  return i == nodes.end() ? nullptr : &*i;
}

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

/// Reads and checks one topology document; all state of one parse lives here.
class topology_parser {
public:
  topology_parser(const std::string& source, const actor_kind_table& kinds) : kinds_(kinds) {
    result_.source = source;
    // parent_path of "<text>" or "cluster.yaml" is empty: such sources are relative to cwd.
    const auto parent = fs::path(source).parent_path();
    base_dir_ = parent.empty() ? fs::current_path() : fs::absolute(parent);
  }

  topology parse(const YAML::Node& root) {
    auto top = read_map(root,
                        {"cluster", "seed", "auth_token", "auth_token_file", "cluster_secret",
                         "cluster_secret_file", "heartbeat_ms", "lost_after_ms", "tls", "rpc_tls",
                         "nodes"},
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

private:
  void read_nodes(const entry& e) {
    if (!e.value.IsSequence() || e.value.size() == 0)
      refuse(e.line, "'nodes' must be a non-empty list of nodes, but it is " +
                         (e.value.IsSequence() ? std::string{"an empty list"} : kind_of(e.value)) +
                         "; write one '- name: ...' entry per node");
    for (const auto& item : e.value)
      read_node(item);
    check_ports();
  }

  void read_node(const YAML::Node& item) {
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

  std::vector<std::string> read_devices(const entry& e, const std::string& where) {
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

  void read_actors(const entry& e, node_spec& node) {
    if (e.value.IsNull())
      return; // "actors:" with every entry commented out
    if (!e.value.IsSequence())
      refuse(e.line, "'actors' of node '" + node.name + "' must be a list, but it is " +
                         kind_of(e.value) + "; write one '- name: ...' entry per actor");
    for (const auto& item : e.value)
      node.actors.push_back(read_actor(item, node.name));
  }

  actor_spec read_actor(const YAML::Node& item, const std::string& node) {
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

  /// A name unique across the cluster that does not end like the runtime's own actors.
  std::string read_actor_name(const entries& map, int line) {
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

  /// A registered kind; an unknown one is answered with the closest known name.
  std::string read_kind(const entries& map, int line, const std::string& where,
                        const std::string& node) {
    auto entry = get(map, "kind");
    if (entry == nullptr)
      refuse(line,
             where + " has no 'kind'; add 'kind: K' with K one of: " + join_words(kinds_.names()));
    auto kind = read_string(*entry);
    if (kinds_.find(kind) == nullptr) {
      auto known = kinds_.names();
      auto match = closest_match(kind, known);
      refuse(entry->line, "unknown actor kind '" + kind + "' for " + where + " on node '" + node +
                              "'; " + (match.empty() ? "" : "did you mean '" + match + "'? ") +
                              "known kinds: " + (known.empty() ? "(none)" : join_words(known)));
    }
    return kind;
  }

  /// The config, checked against the kind's schema; its paths made relative to the topology.
  void read_checked_config(const entries& map, const std::string& where, actor_spec& actor) {
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

  static std::string describe_error(const caf::error& err) {
    const auto& ctx = err.context();
    return ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0) : describe(err);
  }

  std::map<std::string, std::string> read_config(const entry& e, const std::string& where,
                                                 std::map<std::string, int>& key_lines,
                                                 int& config_line) {
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
        refuse(line, "config key '" + key + "' of " + where +
                         " must be a single value, but it is " + kind_of(it->second) +
                         "; config values are plain text, numbers or "
                         "booleans");
      key_lines.emplace(key, line);
      config.emplace(key, it->second.Scalar());
    }
    return config;
  }

  /// port and rpc_port share one namespace per host: both are listening sockets.
  void check_ports() const {
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

  void read_seed(const entry* e) {
    if (e == nullptr) {
      result_.seed = result_.nodes.front().name;
      return;
    }
    result_.seed = read_name(*e);
    if (result_.find_node(result_.seed) == nullptr) {
      std::vector<std::string> names;
      for (const auto& node : result_.nodes)
        names.push_back(node.name);
      auto match = closest_match(result_.seed, names);
      refuse(e->line, "seed '" + result_.seed + "' is not a node of this file; " +
                          (match.empty() ? "" : "did you mean '" + match + "'? ") +
                          "name one of: " + join_words(names));
    }
  }

  void read_auth(const entry* token, const entry* file) {
    result_.auth_token = read_inline_or_file(token, file);
  }

  /// The node port's shared secret (TLS-PSK under CAF's OpenSSL module): long enough not to be
  /// guessed, and not beside certificates, which authenticate nodes already.
  void read_cluster_secret(const entry* inline_secret, const entry* file) {
    result_.cluster_secret = read_inline_or_file(inline_secret, file);
    if (result_.cluster_secret.empty())
      return;
    const auto& e = inline_secret != nullptr ? *inline_secret : *file;
    if (result_.cluster_secret.size() < min_cluster_secret)
      refuse(e.line, "the cluster secret has " + std::to_string(result_.cluster_secret.size()) +
                         " characters; use at least " + std::to_string(min_cluster_secret) +
                         " (e.g. the output of 'openssl rand -hex 32')");
    if (result_.tls)
      refuse(e.line, "both 'tls' and a cluster secret are given; certificates authenticate the "
                     "nodes already, so keep one of them");
  }

  /// A value given inline (`KEY`) or in a file (`KEY_file`, read at once and trimmed), never
  /// both; an inline value of "" means none.
  std::string read_inline_or_file(const entry* value, const entry* file) const {
    if (value != nullptr && file != nullptr)
      refuse(file->line, "both '" + value->key + "' (line " + std::to_string(value->line) +
                             ") and '" + file->key + "' are given; keep one of them");
    if (value != nullptr)
      return read_string(*value);
    if (file == nullptr)
      return {};
    const auto path = resolve(*file);
    std::ifstream in(path);
    if (!in || fs::is_directory(path))
      refuse(file->line, "cannot read " + file->key + " '" + path +
                             "'; check the path (relative paths start at the topology file's "
                             "folder) and its permissions");
    std::ostringstream text;
    text << in.rdbuf();
    auto content = trim(text.str());
    if (content.empty())
      refuse(file->line, file->key + " '" + path +
                             "' is empty; write the value into it or remove '" + file->key + "'");
    return content;
  }

  void read_timing(const entry* heartbeat, const entry* lost) {
    constexpr uint64_t max_ms = 0xFFFFFFFFu;
    if (heartbeat != nullptr)
      result_.heartbeat_ms = static_cast<uint32_t>(
          read_unsigned(*heartbeat, 1, max_ms, "write how often nodes ping each other in ms"));
    if (lost != nullptr)
      result_.lost_after_ms = static_cast<uint32_t>(
          read_unsigned(*lost, 1, max_ms, "write after how many ms a silent peer is lost"));
    if (result_.lost_after_ms <= result_.heartbeat_ms) {
      const int line = lost != nullptr ? lost->line : heartbeat->line;
      refuse(line, "lost_after_ms (" + std::to_string(result_.lost_after_ms) +
                       (lost != nullptr ? "" : ", the default") +
                       ") must be greater than heartbeat_ms (" +
                       std::to_string(result_.heartbeat_ms) +
                       "); make lost_after_ms several heartbeats long, e.g. 4 times heartbeat_ms");
    }
  }

  void read_tls(const entry& e) {
    if (!e.value.IsMap())
      refuse(e.line, "'tls' must be a map with certificate, key and ca, but it is " +
                         kind_of(e.value) + "; see docs/topology.md");
    auto map = read_map(e.value, {"certificate", "key", "ca", "passphrase"}, "tls");
    const std::vector<std::pair<std::string, std::string>> files{
        {"certificate", "this node's certificate, PEM"},
        {"key", "the certificate's private key, PEM"},
        {"ca", "the CA certificate that signed all node certificates"}};
    for (const auto& [key, meaning] : files)
      if (get(map, key) == nullptr)
        refuse(e.line, "tls has no '" + key + "' (" + meaning + "); add '" + key +
                           ": path/to/file' or remove the whole tls section");
    tls_spec tls;
    tls.certificate = resolve(*get(map, "certificate"));
    tls.key = resolve(*get(map, "key"));
    tls.ca = resolve(*get(map, "ca"));
    if (auto p = get(map, "passphrase"))
      tls.passphrase = read_string(*p);
    result_.tls = std::move(tls);
  }

  void read_rpc_tls(const entry& e) {
    if (!e.value.IsMap())
      refuse(e.line, "'rpc_tls' must be a map with certificate and key, but it is " +
                         kind_of(e.value) + "; see docs/topology.md");
    auto map = read_map(e.value, {"certificate", "key"}, "rpc_tls");
    for (const char* key : {"certificate", "key"})
      if (get(map, key) == nullptr)
        refuse(e.line, std::string{"rpc_tls has no '"} + key + "'; add '" + key +
                           ": path/to/file.pem' or remove the whole rpc_tls section");
    result_.rpc_tls = rpc_tls_spec{resolve(*get(map, "certificate")), resolve(*get(map, "key"))};
  }

  /// A path relative to the topology file's folder, made absolute so that it still holds
  /// after a process changes directory.
  std::string resolve(const entry& e) const {
    const auto text = read_string(e);
    if (text.empty())
      refuse(e.line, "'" + e.key + "' is empty; write a path to a file");
    fs::path path(text);
    return (path.is_absolute() ? path : base_dir_ / path).lexically_normal().string();
  }

  /// One listening socket a node asks for.
  struct port_use {
    std::string host;
    uint16_t port;
    int line;
    std::string node;
    std::string key; ///< "port" or "rpc_port"
  };

  const actor_kind_table& kinds_;
  fs::path base_dir_;
  topology result_;
  std::vector<port_use> ports_;
  std::map<std::string, int> actor_lines_; ///< actor name -> line of its name
};

} // namespace

caf::expected<topology> parse_topology(const std::string& text, const std::string& source,
                                       const actor_kind_table& kinds) {
  auto fail = [&](int line, const std::string& what) {
    return make_llmos_error(error_code::bad_topology,
                            source + ":" + std::to_string(line) + ": " + what);
  };
  try {
    // Not YAML::LoadAll: it never returns on some inputs (see count_documents).
    const auto counted = yaml_fields::count_documents(text, 1);
    if (counted.documents > 1)
      return fail(counted.second_line, "the file holds more than one YAML document; remove the "
                                       "'---' separator and keep one topology per file");
    const auto doc = YAML::Load(text);
    if (counted.documents == 0 || doc.IsNull())
      return fail(1, "the file is empty; a topology needs at least a 'nodes' list "
                     "(see docs/topology.md)");
    if (!doc.IsMap())
      return fail(line_of(doc), "the top level must be a map with keys such as 'nodes:', but it "
                                "is " +
                                    kind_of(doc) + "; see docs/topology.md");
    topology_parser parser(source, kinds);
    return parser.parse(doc);
  } catch (const refusal& r) {
    return fail(r.line, r.what);
  } catch (const YAML::ParserException& e) {
    // An unclosed bracket is reported one line past the end; point at the last line instead.
    const auto newlines = std::count(text.begin(), text.end(), '\n');
    const int last_line =
        static_cast<int>(newlines) + (text.empty() || text.back() == '\n' ? 0 : 1);
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
    return fail(std::max(1, std::min(line, last_line)),
                "YAML syntax error: " + e.msg + "; check the indentation and brackets here");
  } catch (const std::exception& e) {
    // yaml-cpp conversions and std::filesystem (cwd gone) throw; never let that escape.
    return fail(1, std::string{"cannot parse the file: "} + e.what());
  }
}

caf::expected<topology> load_topology(const std::string& path, const actor_kind_table& kinds) {
  std::error_code ec;
  std::ifstream in(path);
  if (!in || fs::is_directory(path, ec)) {
    const std::string reason = !in ? std::strerror(errno) : "it is a directory";
    return make_llmos_error(error_code::bad_topology,
                            path + ": cannot read the topology file (" + reason +
                                "); check that the path exists and is a readable file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_topology(text.str(), path, kinds);
}

topology embedded_topology() {
  topology result;
  result.source = "<embedded>";
  result.seed = "local";
  node_spec node;
  node.name = "local";
  node.host = "127.0.0.1";
  node.port = 0;
  node.rpc_port = 0;
  node.devices = {"cpu"};
  result.nodes.push_back(std::move(node));
  return result;
}

} // namespace llmos
