#include "bench_rpc.hpp"

#include <fstream>

#include <thread>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"

namespace llmos::bench {

nlohmann::json call(uint16_t rpc, const nlohmann::json& params, std::chrono::seconds timeout) {
  rpc::client c;
  if (auto err = c.connect("127.0.0.1", rpc, std::chrono::seconds(2)))
    return nlohmann::json{{"error", describe(err)}};
  auto r = c.call("send", params, timeout);
  if (!r)
    return nlohmann::json{{"error", describe(r.error())}};
  if (!r->ok)
    return nlohmann::json{{"error", r->value}};
  return r->value;
}

std::string node_command(const std::string& node_path, const std::filesystem::path& dir,
                         const std::string& node, const std::string& extra) {
  const auto log = dir / (node == "a" ? "node.log" : "node-" + node + ".log");
  return "exec '" + node_path + "' --topology '" + (dir / "topology.yaml").string() + "' --node " +
         node + (extra.empty() ? "" : " " + extra) + " > '" + log.string() + "' 2>&1";
}

void write_spam_pipeline(const std::filesystem::path& dir) {
  std::ifstream in{LLMOS_SOURCE_DIR "/nodes/examples/pipelines/spam.yaml"};
  std::ofstream out{dir / "spam.yaml"};
  out << "root: " << (dir / "store").string() << "\n" << in.rdbuf();
}

bool wait_until_answers(uint16_t rpc, const nlohmann::json& probe) {
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!call(rpc, probe).contains("error"))
      return true;
  }
  return false;
}

} // namespace llmos::bench
