// The messaging benchmark: request/response latency (p50/p99) and pipelined throughput, local
// and across two processes on loopback, for raw CAF, for llmos's typed path resolved through
// the directory, for msgpack-RPC through a node's gateway, and for Erlang distribution, all in
// one run on the same machine.
#include "messaging.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "caf_driver.hpp"
#include "llmos/actors/gateway.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/node/node.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "llmos/runtime/tls_channel.hpp"

namespace llmos::bench {
namespace {

using namespace std::chrono_literals;

// The raw CAF peer: replies to every ping_atom with an integer, nothing else.
caf::behavior raw_pong(caf::event_based_actor*) {
  return {[](ping_atom) { return int64_t{42}; }};
}

send_fn ping_node_manager(node_manager_actor target) {
  return [target](caf::event_based_actor* self, std::function<void(bool)> k) {
    self->request(target, caf::infinite, ping_atom::value)
        .then([k](pong&) { k(true); }, [k](caf::error&) { k(false); });
  };
}

send_fn ping_raw(caf::actor target) {
  return [target](caf::event_based_actor* self, std::function<void(bool)> k) {
    self->request(target, caf::infinite, ping_atom::value)
        .then([k](int64_t) { k(true); }, [k](caf::error&) { k(false); });
  };
}

// Resolves a name through the directory the way a client of llmos does.
caf::expected<actor_entry> resolve(caf::actor_system& sys, node_manager_actor manager,
                                   const std::string& name, std::chrono::seconds timeout) {
  caf::scoped_actor self{sys};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  caf::error last;
  while (std::chrono::steady_clock::now() < deadline) {
    std::optional<actor_entry> found;
    self->request(manager, 5s, get_atom::value, directory_atom::value)
        .receive(
            [&](directory_actor& dir) {
              self->request(dir, 5s, lookup_atom::value, name)
                  .receive([&](actor_entry& e) { found = std::move(e); },
                           [&](caf::error& err) { last = std::move(err); });
            },
            [&](caf::error& err) { last = std::move(err); });
    if (found)
      return std::move(*found);
    std::this_thread::sleep_for(50ms);
  }
  return last;
}

path_result measure_rpc(uint16_t port, std::size_t n, std::size_t window,
                        std::shared_ptr<tls::context> tls = nullptr) {
  path_result r;
  rpc::client client;
  if (tls)
    client.use_tls(std::move(tls));
  if (auto err = client.connect("127.0.0.1", port)) {
    r.note = describe(err);
    return r;
  }
  const std::string empty_array{"\x90"};
  for (int i = 0; i < 1000; ++i)
    if (!client.call_packed("ping", empty_array, 5s)) {
      r.note = "ping failed";
      return r;
    }
  std::vector<double> samples;
  samples.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = client.call_packed("ping", empty_array, 5s);
    if (!res || !res->ok) {
      r.note = "ping failed";
      return r;
    }
    samples.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto done = client.call_many("ping", empty_array, n, window, 10s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!done || *done != n) {
    r.note = done ? "only " + std::to_string(*done) + " answered" : describe(done.error());
    return r;
  }
  r.p50_us = percentile(samples, 0.5);
  r.p99_us = percentile(samples, 0.99);
  r.rps = static_cast<double>(n) / secs;
  r.ok = true;
  return r;
}

void run_erlang(const messaging_options& opts, result_sheet& sheet) {
  const std::string cmd = opts.erlang_script + " " + std::to_string(opts.n) + " " +
                          std::to_string(opts.window) + " 2>/dev/null";
  std::string output;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof(buf), p))
      output += buf;
    ::pclose(p);
  }
  for (const char* where : {"local", "remote"}) {
    path_result r;
    const std::string prefix = std::string{"erlang_"} + where;
    try {
      auto j = nlohmann::json::parse(output.substr(output.find('{')));
      r.p50_us = j.at(prefix + "_p50_us").get<double>();
      r.p99_us = j.at(prefix + "_p99_us").get<double>();
      r.rps = j.at(prefix + "_rps").get<double>();
      r.ok = true;
    } catch (const std::exception&) {
      r.note = "Erlang peer gave no result (is erlang-base installed?): " + cmd;
    }
    sheet.add(prefix, r);
  }
}

std::string bench_topology(uint16_t bench_port, uint16_t remote_port, uint16_t rpc_port) {
  return "cluster: bench\nheartbeat_ms: 1000\nlost_after_ms: 10000\nnodes:\n"
         "  - name: bench\n    host: 127.0.0.1\n    port: " +
         std::to_string(bench_port) +
         "\n  - name: remote\n    host: 127.0.0.1\n    port: " + std::to_string(remote_port) +
         "\n    rpc_port: " + std::to_string(rpc_port) + "\n";
}

} // namespace

int serve_raw_caf(uint16_t port, const std::vector<std::string>& caf_args) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", size_t{1});
  if (auto err = cfg.parse(caf_args)) {
    std::cerr << "serve-caf: " << caf::to_string(err) << "\n";
    return 2;
  }
  caf::actor_system sys{cfg};
  auto pong = sys.spawn(raw_pong);
  auto bound = sys.middleman().publish(pong, port, nullptr, true);
  if (!bound) {
    std::cerr << "serve-caf: " << sys.render(bound.error()) << "\n";
    return 1;
  }
  std::cout << "ready " << *bound << std::endl;
  // Serve until the benchmark closes our stdin or terminates us.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  caf::anon_send_exit(pong, caf::exit_reason::user_shutdown);
  return 0;
}

int run_messaging(const messaging_options& opts) {
  result_sheet sheet;
  const uint16_t bench_port = free_port();
  const uint16_t remote_port = free_port();
  const uint16_t rpc_port = free_port();
  const auto dir =
      std::filesystem::temp_directory_path() / ("llmos-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto topo_path = (dir / "bench.yaml").string();
  std::ofstream{topo_path} << bench_topology(bench_port, remote_port, rpc_port);

  auto kinds = std::make_shared<const actor_kind_table>();
  auto topo = parse_topology(bench_topology(bench_port, remote_port, rpc_port), topo_path, *kinds);
  if (!topo) {
    std::cerr << "llmos-bench: " << describe(topo.error()) << "\n";
    return 1;
  }
  node_start_options nopts;
  nopts.threads = 1;
  nopts.kinds = kinds;
  nopts.caf_args = opts.caf_args;
  auto node = node::start(*topo, "bench", nopts);
  if (!node) {
    std::cerr << "llmos-bench: " << describe(node.error()) << "\n";
    return 1;
  }
  auto& sys = (*node)->system();
  std::cerr << "messaging: n=" << opts.n << " window=" << opts.window
            << " (1 scheduler thread per process)";
  for (const auto& a : opts.caf_args)
    std::cerr << " " << a;
  std::cerr << "\n";

  // Local paths: in this process.
  sheet.add("caf_local", measure_caf(sys, ping_raw(sys.spawn(raw_pong)), opts.n, opts.window));
  if (auto me = resolve(sys, (*node)->manager(), "bench.manager", 10s))
    sheet.add("llmos_local",
              measure_caf(sys, ping_node_manager(caf::actor_cast<node_manager_actor>(me->handle)),
                          opts.n, opts.window));

  // Remote raw CAF: a child process publishing a bare pong actor.
  {
    const uint16_t caf_port = free_port();
    std::vector<std::string> argv{opts.self_path, "serve-caf", std::to_string(caf_port)};
    for (const auto& a : opts.caf_args)
      argv.push_back("--caf=" + a);
    child_process peer{argv, "ready", 10s};
    path_result r;
    auto remote = peer.ready() ? sys.middleman().remote_actor("127.0.0.1", caf_port)
                               : caf::expected<caf::actor>{caf::sec::cannot_connect_to_node};
    if (remote)
      r = measure_caf(sys, ping_raw(*remote), opts.n, opts.window);
    else
      r.note = "raw CAF peer did not start";
    sheet.add("caf_remote", r);
  }

  // Remote llmos: a real llmos-node child; its manager is found through the directory.
  {
    child_process peer{{opts.node_path, "--topology", topo_path, "--node", "remote", "--threads",
                        "1", "--log", "warning"},
                       "",
                       1s};
    path_result r;
    auto entry = resolve(sys, (*node)->manager(), "remote.manager", 15s);
    if (entry)
      r = measure_caf(sys, ping_node_manager(caf::actor_cast<node_manager_actor>(entry->handle)),
                      opts.n, opts.window);
    else
      r.note = "remote node not found in the directory: " + describe(entry.error());
    sheet.add("llmos_remote", r);
    sheet.add("rpc_remote", measure_rpc(rpc_port, opts.n, opts.window));
  }

  // RPC over TLS against plain RPC: two gateways of this process's node (rpc_tls), one speaking
  // TLS with a development certificate (tools/certs/make-dev-certs.sh).
  {
    const auto certs = dir / "certs";
    const std::string make = "/bin/bash '" LLMOS_SOURCE_DIR "/tools/certs/make-dev-certs.sh' '" +
                             certs.string() + "' localhost >/dev/null 2>&1";
    auto server = std::system(make.c_str()) == 0
                      ? tls::context::server((certs / "localhost.pem").string(),
                                             (certs / "localhost.key").string())
                      : caf::expected<std::shared_ptr<tls::context>>{caf::sec::runtime_error};
    auto client = tls::context::client((certs / "ca.pem").string());
    path_result plain, secured;
    if (server && client) {
      auto methods = std::make_shared<const method_table>(builtin_methods());
      gateway_options g;
      g.host = "127.0.0.1";
      auto open = start_gateway(sys, (*node)->manager(), methods, g);
      g.tls = *server;
      auto tls_gw = start_gateway(sys, (*node)->manager(), methods, g);
      if (open && tls_gw) {
        plain = measure_rpc(open->port, opts.n, opts.window);
        secured = measure_rpc(tls_gw->port, opts.n, opts.window, *client);
        caf::anon_send_exit(open->broker, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(tls_gw->broker, caf::exit_reason::user_shutdown);
      } else {
        plain.note = secured.note = "a gateway did not start";
      }
    } else {
      plain.note = secured.note = "no development certificate (openssl missing?)";
    }
    sheet.add("rpc_local_plain", plain);
    sheet.add("rpc_local_tls", secured);
    if (plain.ok && secured.ok)
      sheet.set("rpc_tls_vs_plain_rps_ratio", secured.rps / plain.rps);
  }
  if (!opts.erlang_script.empty())
    run_erlang(opts, sheet);
  node->reset();
  std::filesystem::remove_all(dir);

  std::cout << sheet.table();
  const auto* plain_rpc = sheet.find("rpc_local_plain");
  const auto* tls_rpc = sheet.find("rpc_local_tls");
  if (plain_rpc && tls_rpc && plain_rpc->ok && tls_rpc->ok)
    std::cout << "RPC over TLS req/s / plain RPC req/s (same node, pipelined): "
              << tls_rpc->rps / plain_rpc->rps << " (p50 " << tls_rpc->p50_us << " vs "
              << plain_rpc->p50_us << " us)\n";
  const auto* caf_r = sheet.find("caf_remote");
  const auto* ours = sheet.find("llmos_remote");
  const auto* erl = sheet.find("erlang_remote");
  if (caf_r && ours && caf_r->ok && ours->ok) {
    sheet.set("llmos_vs_caf_remote_p50_ratio", ours->p50_us / caf_r->p50_us);
    std::cout << "llmos remote p50 / raw CAF remote p50: " << ours->p50_us / caf_r->p50_us
              << " (aim <= 1.2)\n";
  }
  if (erl && ours && erl->ok && ours->ok) {
    sheet.set("llmos_vs_erlang_remote_rps_ratio", ours->rps / erl->rps);
    std::cout << "llmos remote req/s / Erlang remote req/s: " << ours->rps / erl->rps
              << " (aim > 1)\n";
  }
  if (!opts.json_path.empty())
    std::ofstream{opts.json_path} << sheet.json() << "\n";
  return 0;
}

} // namespace llmos::bench
