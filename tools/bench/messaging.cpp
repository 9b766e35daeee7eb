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

/// What the steps of run_messaging share: the ports and the topology, the node of this process,
/// and the results measured so far.
struct messaging_run {
  result_sheet sheet;
  uint16_t bench_port = 0, remote_port = 0, rpc_port = 0;
  std::filesystem::path dir;
  std::string topo_path;
  std::shared_ptr<const actor_kind_table> kinds;
  std::unique_ptr<node> local; ///< the node "bench" in this process
};

/// Writes the topology and starts the node "bench" in this process (its peer, "remote", is a
/// child process started later).
bool start_bench_node(const messaging_options& opts, messaging_run& run) {
  run.bench_port = free_port();
  run.remote_port = free_port();
  run.rpc_port = free_port();
  run.dir = std::filesystem::temp_directory_path() / ("llmos-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(run.dir);
  run.topo_path = (run.dir / "bench.yaml").string();
  const auto text = bench_topology(run.bench_port, run.remote_port, run.rpc_port);
  std::ofstream{run.topo_path} << text;
  run.kinds = std::make_shared<const actor_kind_table>();
  auto topo = parse_topology(text, run.topo_path, *run.kinds);
  if (!topo) {
    std::cerr << "llmos-bench: " << describe(topo.error()) << "\n";
    return false;
  }
  node_start_options nopts;
  nopts.threads = 1;
  nopts.kinds = run.kinds;
  nopts.caf_args = opts.caf_args;
  auto started = node::start(*topo, "bench", nopts);
  if (!started) {
    std::cerr << "llmos-bench: " << describe(started.error()) << "\n";
    return false;
  }
  run.local = std::move(*started);
  return true;
}

void print_settings(const messaging_options& opts) {
  std::cerr << "messaging: n=" << opts.n << " window=" << opts.window
            << " (1 scheduler thread per process)";
  for (const auto& a : opts.caf_args)
    std::cerr << " " << a;
  std::cerr << "\n";
}

// Local paths: in this process.
void measure_local(const messaging_options& opts, messaging_run& run) {
  auto& sys = run.local->system();
  run.sheet.add("caf_local", measure_caf(sys, ping_raw(sys.spawn(raw_pong)), opts.n, opts.window));
  if (auto me = resolve(sys, run.local->manager(), "bench.manager", 10s))
    run.sheet.add("llmos_local",
                  measure_caf(sys,
                              ping_node_manager(caf::actor_cast<node_manager_actor>(me->handle)),
                              opts.n, opts.window));
}

// Remote raw CAF: a child process publishing a bare pong actor.
void measure_remote_caf(const messaging_options& opts, messaging_run& run) {
  auto& sys = run.local->system();
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
  run.sheet.add("caf_remote", r);
}

// Remote llmos: a real llmos-node child; its manager is found through the directory. Its
// gateway answers the msgpack-RPC path while the child is up.
void measure_remote_node(const messaging_options& opts, messaging_run& run) {
  child_process peer{{opts.node_path, "--topology", run.topo_path, "--node", "remote", "--threads",
                      "1", "--log", "warning"},
                     "",
                     1s};
  path_result r;
  auto entry = resolve(run.local->system(), run.local->manager(), "remote.manager", 15s);
  if (entry)
    r = measure_caf(run.local->system(),
                    ping_node_manager(caf::actor_cast<node_manager_actor>(entry->handle)), opts.n,
                    opts.window);
  else
    r.note = "remote node not found in the directory: " + describe(entry.error());
  run.sheet.add("llmos_remote", r);
  run.sheet.add("rpc_remote", measure_rpc(run.rpc_port, opts.n, opts.window));
}

/// A server context with a development certificate made in `certs`
/// (tools/certs/make-dev-certs.sh).
caf::expected<std::shared_ptr<tls::context>>
dev_server_context(const std::filesystem::path& certs) {
  const std::string make = "/bin/bash '" LLMOS_SOURCE_DIR "/tools/certs/make-dev-certs.sh' '" +
                           certs.string() + "' localhost >/dev/null 2>&1";
  return std::system(make.c_str()) == 0
             ? tls::context::server((certs / "localhost.pem").string(),
                                    (certs / "localhost.key").string())
             : caf::expected<std::shared_ptr<tls::context>>{caf::sec::runtime_error};
}

struct plain_and_tls {
  path_result plain, secured;
};

/// Plain RPC and RPC over TLS through two gateways of this process's node.
plain_and_tls measure_gateways(const messaging_options& opts, messaging_run& run,
                               const std::shared_ptr<tls::context>& server,
                               const std::shared_ptr<tls::context>& client) {
  plain_and_tls r;
  auto& sys = run.local->system();
  auto methods = std::make_shared<const method_table>(builtin_methods());
  gateway_options g;
  g.host = "127.0.0.1";
  auto open = start_gateway(sys, run.local->manager(), methods, g);
  g.tls = server;
  auto tls_gw = start_gateway(sys, run.local->manager(), methods, g);
  if (!open || !tls_gw) {
    r.plain.note = r.secured.note = "a gateway did not start";
    return r;
  }
  r.plain = measure_rpc(open->port, opts.n, opts.window);
  r.secured = measure_rpc(tls_gw->port, opts.n, opts.window, client);
  caf::anon_send_exit(open->broker, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(tls_gw->broker, caf::exit_reason::user_shutdown);
  return r;
}

// RPC over TLS against plain RPC: two gateways of this process's node (rpc_tls), one speaking
// TLS with a development certificate (tools/certs/make-dev-certs.sh).
void measure_rpc_tls(const messaging_options& opts, messaging_run& run) {
  const auto certs = run.dir / "certs";
  auto server = dev_server_context(certs);
  auto client = tls::context::client((certs / "ca.pem").string());
  plain_and_tls r;
  if (server && client)
    r = measure_gateways(opts, run, *server, *client);
  else
    r.plain.note = r.secured.note = "no development certificate (openssl missing?)";
  run.sheet.add("rpc_local_plain", r.plain);
  run.sheet.add("rpc_local_tls", r.secured);
  if (r.plain.ok && r.secured.ok)
    run.sheet.set("rpc_tls_vs_plain_rps_ratio", r.secured.rps / r.plain.rps);
}

/// The ratios under the table: TLS against plain RPC, ours against raw CAF and against Erlang.
void print_ratios(result_sheet& sheet) {
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
  messaging_run run;
  if (!start_bench_node(opts, run))
    return 1;
  print_settings(opts);
  measure_local(opts, run);
  measure_remote_caf(opts, run);
  measure_remote_node(opts, run);
  measure_rpc_tls(opts, run);
  if (!opts.erlang_script.empty())
    run_erlang(opts, run.sheet);
  run.local.reset();
  std::filesystem::remove_all(run.dir);

  std::cout << run.sheet.table();
  print_ratios(run.sheet);
  if (!opts.json_path.empty())
    std::ofstream{opts.json_path} << run.sheet.json() << "\n";
  return 0;
}

} // namespace llmos::bench
