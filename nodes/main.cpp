// llmos-node: one node process. Starts the node named on the command line from a topology file
// (or the embedded single-node default) and runs until SIGINT or SIGTERM.
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>

#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/node/node.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/options.hpp"

namespace {

llmos::log_level level_of(const std::string& s) {
  if (s == "debug")
    return llmos::log_level::debug;
  if (s == "warning")
    return llmos::log_level::warning;
  if (s == "error")
    return llmos::log_level::error;
  return llmos::log_level::info;
}

/// The topology (the embedded default without --topology) and this process's node in it, with
/// --rpc-port applied; exit status 2 and a message when they do not fit.
struct chosen_node {
  llmos::topology topo;
  std::string name;
};

std::optional<chosen_node> choose_node(const llmos::node_options& opts,
                                       const llmos::actor_kind_table& kinds) {
  chosen_node out{llmos::embedded_topology(), opts.node};
  if (!opts.topology_path.empty()) {
    auto loaded = llmos::load_topology(opts.topology_path, kinds);
    if (!loaded) {
      std::cerr << "llmos-node: " << llmos::describe(loaded.error()) << "\n";
      return std::nullopt;
    }
    out.topo = std::move(*loaded);
  }
  if (out.name.empty()) {
    if (out.topo.nodes.size() != 1) {
      std::cerr << "llmos-node: " << out.topo.source << " declares " << out.topo.nodes.size()
                << " nodes; pass --node NAME\n";
      return std::nullopt;
    }
    out.name = out.topo.nodes.front().name;
  }
  if (opts.rpc_port != 0)
    for (auto& n : out.topo.nodes)
      if (n.name == out.name)
        n.rpc_port = opts.rpc_port;
  return out;
}

/// Waits for SIGINT or SIGTERM, drains and stops the node: 0, or 3 when the grace period ran
/// out.
int run_until_stopped(std::unique_ptr<llmos::node> node, const std::string& name, double grace_s,
                      const sigset_t& stop_signals) {
  int sig = 0;
  sigwait(&stop_signals, &sig);
  llmos::log_info("node '" + name + "' stopping (signal " + std::to_string(sig) + ")");
  const auto grace = std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
  const bool clean = node->drain(grace);
  node.reset();
  if (!clean) {
    std::cerr << "llmos-node: node '" << name << "' stopped after its grace period of " << grace_s
              << " s ran out (see the warnings above); exit status 3\n";
    return 3;
  }
  llmos::log_info("node '" + name + "' stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = llmos::parse_node_options(argc, argv);
  if (!opts) {
    std::cerr << "llmos-node: " << llmos::describe(opts.error()) << "\n";
    return 2;
  }
  if (opts->help) {
    std::cout << opts->help_text;
    return 0;
  }
  llmos::set_log_level(level_of(opts->log_level));
  // Block the stop signals before any thread starts, so that only sigwait receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto kinds = std::make_shared<const llmos::actor_kind_table>(llmos::builtin_actor_kinds());
  auto chosen = choose_node(*opts, *kinds);
  if (!chosen)
    return 2;
  llmos::node_start_options start_opts;
  start_opts.threads = opts->threads;
  start_opts.caf_args = opts->caf_args;
  start_opts.rpc_rate = opts->rpc_rate;
  start_opts.rpc_busy_rate = opts->rpc_busy_rate;
  start_opts.rpc_nice = opts->rpc_nice;
  start_opts.kinds = kinds;
  auto node = llmos::node::start(std::move(chosen->topo), chosen->name, start_opts);
  if (!node) {
    std::cerr << "llmos-node: " << llmos::describe(node.error()) << "\n";
    return 1;
  }
  return run_until_stopped(std::move(*node), chosen->name, opts->grace_s, stop_signals);
}
