// The topology's cluster-wide settings: the seed, the RPC auth token and the node port's shared
// secret (inline or from a file), heartbeat timing, and the TLS of the HTTP and RPC ports.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/restart_mode.hpp"
#include "llmos/runtime/suggest.hpp"
#include "topology_parser.hpp"

namespace llmos::topology_detail {

namespace fs = std::filesystem;
using namespace yaml_fields;

void topology_parser::read_seed(const entry* e) {
  if (e == nullptr) {
    result_.seed = result_.nodes.front().name;
    return;
  }
  result_.seed = read_name(*e);
  if (result_.find_node(result_.seed) == nullptr) {
    std::vector<std::string> names;
    for (const auto& node : result_.nodes)
      names.push_back(node.name);
    refuse(e->line, "seed '" + result_.seed + "' is not a node of this file; " +
                        did_you_mean(result_.seed, names) + "name one of: " + join_words(names));
  }
}

void topology_parser::read_auth(const entry* token, const entry* file) {
  result_.auth_token = read_inline_or_file(token, file);
}

void topology_parser::read_cluster_secret(const entry* inline_secret, const entry* file) {
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

std::string topology_parser::read_inline_or_file(const entry* value, const entry* file) const {
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
    refuse(file->line, file->key + " '" + path + "' is empty; write the value into it or remove '" +
                           file->key + "'");
  return content;
}

void topology_parser::read_timing(const entry* heartbeat, const entry* lost) {
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

void topology_parser::read_tls(const entry& e) {
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

void topology_parser::read_rpc_tls(const entry& e) {
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

std::string topology_parser::resolve(const entry& e) const {
  const auto text = read_string(e);
  if (text.empty())
    refuse(e.line, "'" + e.key + "' is empty; write a path to a file");
  fs::path path(text);
  return (path.is_absolute() ? path : base_dir_ / path).lexically_normal().string();
}

} // namespace llmos::topology_detail
