#include "solo_node.hpp"

#include <csignal>
#include <sstream>

namespace llmos::test {

using namespace std::chrono_literals;

std::string node_entry(const std::string& name, uint16_t port, uint16_t rpc, int threads,
                       const std::string& actors) {
  std::ostringstream out;
  out << "  - name: " << name << "\n    host: 127.0.0.1\n    port: " << port
      << "\n    rpc_port: " << rpc << "\n    actors:\n";
  if (threads > 0)
    out << "      - {name: cpu-" << name
        << ", kind: device, config: {type: cpu, threads: " << threads << "}}\n";
  out << actors;
  return out.str();
}

child_process start_node(const std::filesystem::path& topology, const std::string& name,
                         const std::vector<std::string>& args) {
  std::vector<std::string> argv{program("llmos-node"), "--topology", topology.string(), "--node",
                                name};
  argv.insert(argv.end(), args.begin(), args.end());
  return child_process::start(argv, topology.parent_path() / (name + ".log"));
}

testing::AssertionResult node_says(const std::filesystem::path& topology, const std::string& name,
                                   const std::string& text, std::chrono::seconds timeout) {
  auto node = start_node(topology, name);
  const auto log = topology.parent_path() / (name + ".log");
  const bool said =
      wait_until([&] { return read_file(log).find(text) != std::string::npos; }, timeout, 100ms);
  node.stop(SIGTERM);
  if (said)
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << "node " << name << " did not say '" << text << "':\n"
                                     << read_file(log);
}

solo_node::solo_node(const temp_dir& dir, const std::string& cluster,
                     const std::vector<uint16_t>& ports, int threads, const std::string& actors)
    : rpc(ports.at(1)), log_file_(dir / "a.log") {
  write_file(dir / "topology.yaml", "cluster: " + cluster + "\n" + fast_heartbeat + "nodes:\n" +
                                        node_entry("a", ports.at(0), rpc, threads, actors));
  process_ = start_node(dir / "topology.yaml", "a");
}

testing::AssertionResult solo_node::up(std::chrono::seconds timeout) {
  const bool answered =
      wait_until([&] { return !process_.running() || rpc_ping(rpc); }, timeout, 100ms);
  if (!process_.running())
    return testing::AssertionFailure() << "node a exited:\n" << log();
  if (!answered)
    return testing::AssertionFailure()
           << "node a did not answer ping within " << timeout.count() << " s:\n"
           << log();
  return testing::AssertionSuccess();
}

} // namespace llmos::test
