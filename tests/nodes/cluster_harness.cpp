#include "cluster_harness.hpp"

#include <cstdlib>
#include <iostream>
#include <sstream>

#include <httplib.h>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "solo_node.hpp"

namespace llmos::test {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string program(const std::string& name) {
  // LLMOS_TEST_BIN_DIR runs the process tests against another build's programs (the
  // AddressSanitizer build of tools/asan/check.sh).
  if (const char* dir = std::getenv("LLMOS_TEST_BIN_DIR"); dir != nullptr && *dir != '\0')
    return std::string{dir} + "/" + name;
  return std::string{LLMOS_BIN_DIR} + "/" + name;
}

const json& repl_result::line(std::size_t i) const {
  static const json none;
  return i < lines.size() ? lines[i] : none;
}

std::string repl_result::error_code(std::size_t i) const {
  const auto& l = line(i);
  if (!l.is_object() || !l.contains("error") || !l["error"].is_object())
    return "";
  return l["error"].value("code", "");
}

repl_result run_repl(uint16_t rpc_port, const std::vector<std::string>& commands,
                     const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv{program("llmos-repl"), "127.0.0.1:" + std::to_string(rpc_port),
                                "--json"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  for (const auto& c : commands) {
    argv.push_back("-c");
    argv.push_back(c);
  }
  auto ran = run_program(argv, 20s);
  repl_result r;
  r.exit_code = ran.exit_code;
  r.err = ran.err;
  std::istringstream lines{ran.out};
  std::string l;
  while (std::getline(lines, l))
    if (!l.empty())
      r.lines.push_back(json::parse(l, nullptr, false));
  return r;
}

cluster::cluster(const std::string& tag, std::vector<std::string> names, std::string top_level)
    : dir_(tag), names_(std::move(names)), top_level_(std::move(top_level)) {
  pick_ports();
}

cluster::~cluster() {
  for (auto& [name, proc] : procs_)
    proc.stop(SIGKILL);
  if (testing::Test::HasFailure()) {
    for (const auto& name : names_) {
      std::cerr << "---- log of node " << name << " ----\n" << log(name);
      std::cerr << "---- topology of node " << name << " ----\n"
                << read_file(dir_ / (name + ".yaml"));
    }
  }
}

void cluster::pick_ports() {
  auto ports = free_ports(2 * names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i)
    ports_[names_[i]] = {ports[2 * i], ports[2 * i + 1]};
}

void cluster::set_node_top_level(const std::string& node, std::string yaml) {
  node_top_level_[node] = std::move(yaml);
}

fs::path cluster::write_topology(const std::string& node) const {
  std::ostringstream os;
  os << "cluster: test\n" << top_level_;
  if (auto i = node_top_level_.find(node); i != node_top_level_.end())
    os << i->second;
  os << "nodes:\n";
  for (const auto& n : names_) {
    os << "  - name: " << n << "\n"
       << "    host: 127.0.0.1\n"
       << "    port: " << port(n) << "\n"
       << "    rpc_port: " << rpc_port(n) << "\n"
       << "    actors:\n"
       << "      - name: cpu-" << n << "\n"
       << "        kind: device\n"
       << "        config: {type: cpu, threads: 1}\n";
  }
  auto file = dir_ / (node + ".yaml");
  write_file(file, os.str());
  return file;
}

testing::AssertionResult cluster::start(const std::string& node) {
  auto topo = write_topology(node);
  auto& proc = procs_[node];
  proc.stop(SIGKILL);
  const auto extra = node_args_.find(node);
  proc = start_node(topo, node,
                    extra == node_args_.end() ? std::vector<std::string>{} : extra->second);
  const bool answered =
      wait_until([&] { return !proc.running() || repl(node, {"ping"}).exit_code == 0; }, 10s, 50ms);
  if (!proc.running())
    return testing::AssertionFailure()
           << "node " << node << " exited with status " << proc.wait_for(0ms).value_or(-1) << ":\n"
           << log(node);
  if (!answered)
    return testing::AssertionFailure() << "node " << node << " did not answer ping within 10 s";
  return testing::AssertionSuccess();
}

testing::AssertionResult cluster::start_all() {
  testing::AssertionResult result = testing::AssertionSuccess();
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool port_taken = false;
    result = testing::AssertionSuccess();
    for (const auto& n : names_) {
      result = start(n);
      if (!result) {
        port_taken = log(n).find("cannot listen") != std::string::npos;
        break;
      }
    }
    if (result || !port_taken)
      return result;
    for (auto& [name, proc] : procs_)
      proc.stop(SIGKILL);
    pick_ports();
  }
  return result;
}

void cluster::stop(const std::string& node, int sig) {
  procs_[node].stop(sig);
}

repl_result cluster::repl(const std::string& node, const std::vector<std::string>& commands) const {
  return run_repl(rpc_port(node), commands);
}

std::map<std::string, std::string> cluster::states(const std::string& from) const {
  std::map<std::string, std::string> out;
  auto r = repl(from, {"nodes"});
  if (r.exit_code != 0 || !r.line(0).is_array())
    return out;
  for (const auto& n : r.line(0))
    out[n.value("name", "")] = n.value("state", "");
  return out;
}

std::map<std::string, int64_t> cluster::since_ms(const std::string& from) const {
  std::map<std::string, int64_t> out;
  auto r = repl(from, {"nodes"});
  if (r.exit_code != 0 || !r.line(0).is_array())
    return out;
  for (const auto& n : r.line(0))
    out[n.value("name", "")] = n.value("since_ms", int64_t{-1});
  return out;
}

std::set<std::string> cluster::actor_names(const std::string& from, const std::string& node) const {
  std::set<std::string> out;
  auto r = repl(from, {node.empty() ? "actors" : "actors " + node});
  if (r.exit_code != 0 || !r.line(0).is_array())
    return out;
  for (const auto& a : r.line(0))
    out.insert(a.value("name", ""));
  return out;
}

bool cluster::wait_for_state(const std::string& from, const std::string& of,
                             const std::string& state, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return states(from)[of] == state; }, timeout, 50ms);
}

std::string cluster::log(const std::string& node) const {
  return read_file(dir_ / (node + ".log"));
}

bool rpc_ping(uint16_t rpc_port) {
  rpc::client c;
  if (c.connect("127.0.0.1", rpc_port, std::chrono::seconds(1)))
    return false;
  auto pong = c.call("ping", nlohmann::json::array(), std::chrono::seconds(2));
  return pong && pong->ok;
}

bool http_ready(uint16_t http_port, std::chrono::seconds within, std::chrono::milliseconds every) {
  httplib::Client web{"127.0.0.1", http_port};
  web.set_read_timeout(30, 0);
  return wait_until(
      [&] {
        auto r = web.Get("/readyz");
        return r && r->status == 200;
      },
      within, every);
}

nlohmann::json rpc_call(uint16_t rpc_port, const std::string& method, const nlohmann::json& params,
                        std::chrono::seconds timeout) {
  rpc::client c;
  if (auto err = c.connect("127.0.0.1", rpc_port, std::chrono::seconds(2)))
    return nlohmann::json{{"error", describe(err)}};
  auto r = c.call(method, params, timeout);
  if (!r)
    return nlohmann::json{{"error", describe(r.error())}};
  if (!r->ok)
    return nlohmann::json{{"error", r->value}};
  return r->value;
}

nlohmann::json rpc_send(uint16_t rpc_port, const nlohmann::json& params,
                        std::chrono::seconds timeout) {
  return rpc_call(rpc_port, "send", params, timeout);
}

void write_words_dataset(const std::filesystem::path& dir, int count) {
  static const char* a[] = {"river", "garden", "forest", "quiet"};
  static const char* b[] = {"engine", "market", "silver", "bright"};
  std::string records;
  for (int i = 0; i < count; ++i) {
    const bool is_a = i % 2 == 0;
    const auto* w = is_a ? a : b;
    records += nlohmann::json{{"text", std::string{w[i % 4]} + " " + w[(i / 4) % 4] + " " +
                                           std::to_string(i)},
                              {"label", is_a ? "a" : "b"}}
                   .dump() +
               "\n";
  }
  write_file(dir / "records.jsonl", records);
  write_file(dir / "pipeline.yaml", "dataset: words\nroot: store\n"
                                    "sources:\n"
                                    "  - {name: r, kind: jsonl, path: records.jsonl,\n"
                                    "     options: {label_field: label}}\n"
                                    "split: {train: 0.8, validation: 0.2, test: 0.0}\n"
                                    "tokenizer: {kind: byte, max_length: 32}\n");
}

} // namespace llmos::test
