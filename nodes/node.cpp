#include "llmos/node/node.hpp"

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include "directory/directory_actor.hpp"
#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/thread_priority.hpp"
#include "llmos/runtime/tls_channel.hpp"
#include "node_manager/node_manager_actor.hpp"
#include "node_port_auth.hpp"
#include "openssl_error_queue.hpp"

namespace llmos {
namespace {

std::unique_ptr<caf::actor_system_config>
make_config(const topology& topo, const node_start_options& opts, caf::error& err) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->load<caf::io::middleman>();
  if (topo.tls || !topo.cluster_secret.empty()) {
    link_openssl_error_queue_fix();
    if (auto refused = admit_only_peers_of(topo); !refused.empty()) {
      err = make_llmos_error(error_code::bad_option, refused);
      return nullptr;
    }
    cfg->load<caf::openssl::manager>();
  }
  // Without certificates CAF's OpenSSL module runs anonymous TLS, which admit_only_peers_of
  // turns into TLS-PSK with the cluster secret.
  if (topo.tls) {
    cfg->openssl_certificate = topo.tls->certificate;
    cfg->openssl_key = topo.tls->key;
    cfg->openssl_cafile = topo.tls->ca;
    cfg->openssl_passphrase = topo.tls->passphrase;
  }
  register_messages(*cfg);
  cfg->set("scheduler.max-threads", static_cast<size_t>(opts.threads));
  // CAF would otherwise print its own banner of options and read caf-application.ini.
  std::vector<std::string> args = opts.caf_args;
  if (auto e = cfg->parse(args)) {
    err = make_llmos_error(error_code::bad_option, "CAF options: " + caf::to_string(e));
    return nullptr;
  }
  return cfg;
}

/// The RPC port's system: a middleman for its sockets and one scheduler thread, which only runs
/// timers (the broker itself runs on the multiplexer thread); both `nice` lower than the node's.
std::unique_ptr<caf::actor_system_config> make_rpc_config(int nice) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->load<caf::io::middleman>();
  cfg->add_thread_hook<nice_threads>(nice);
  register_messages(*cfg);
  cfg->set("scheduler.max-threads", static_cast<size_t>(1));
  std::vector<std::string> none;
  cfg->parse(none);
  return cfg;
}

} // namespace

void node::register_system_actor(const std::string& suffix, const std::string& kind,
                                 const caf::actor& handle) {
  caf::anon_send(manager_, register_atom::value,
                 actor_entry{name_ + "." + suffix, kind, name_, {}, handle});
}

caf::error node::publish_node_port(const node_spec& spec, bool tls) {
  // A single node with port 0 has no peers to talk to: nothing to publish.
  if (spec.port == 0 && topo_.nodes.size() <= 1)
    return {};
  // On the topology's host only (127.0.0.1 by default), not every interface.
  const char* host = spec.host.c_str();
  auto& sys = *system_;
  auto published = tls ? caf::openssl::publish(manager_, spec.port, host, true)
                       : sys.middleman().publish(manager_, spec.port, host, true);
  if (!published)
    return make_llmos_error(error_code::io_failed,
                            "node '" + name_ + "': cannot listen on node port " +
                                std::to_string(spec.port) + ": " + sys.render(published.error()) +
                                " (is another node using it?)");
  port_ = *published;
  return {};
}

caf::error node::start_rpc(const node_spec& spec, const node_start_options& opts,
                           std::shared_ptr<const method_table> methods) {
  if (spec.rpc_port == 0)
    return {};
  gateway_options gw_opts;
  gw_opts.port = spec.rpc_port;
  gw_opts.host = spec.host;
  gw_opts.auth_token = topo_.auth_token;
  gw_opts.bounds.max_calls_per_s = opts.rpc_rate;
  gw_opts.bounds.busy_calls_per_s = opts.rpc_busy_rate;
  if (const auto& rpc_tls = topo_.rpc_tls) {
    auto ctx = tls::context::server(rpc_tls->certificate, rpc_tls->key);
    if (!ctx)
      return make_llmos_error(error_code::bad_option,
                              "node '" + name_ + "': rpc_tls: " + describe(ctx.error()));
    gw_opts.tls = std::move(*ctx);
  }
  rpc_config_ = make_rpc_config(opts.rpc_nice);
  rpc_system_ = std::make_unique<caf::actor_system>(*rpc_config_);
  gw_opts.io_system = rpc_system_.get();
  auto gw = start_gateway(*system_, manager_, std::move(methods), gw_opts);
  if (!gw)
    return std::move(gw.error());
  gateway_ = *gw;
  // The dispatcher stands for the gateway in the directory: the broker's handle belongs to the
  // RPC port's own actor system, which no other node can reach (nor see lost with this node);
  // stopping the dispatcher stops the broker (they are linked).
  register_system_actor("gateway", "gateway", gw->dispatcher);
  return {};
}

void node::report_up(const node_spec& spec, bool tls) const {
  // Off loopback, an open node port lets anyone who reaches it run actors here.
  const auto& host = spec.host;
  const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  if (!loopback && !tls)
    log_warning("node '" + name_ + "': the node port listens on " + host +
                " without tls or cluster_secret: any peer that reaches it joins the cluster; set "
                "one of them in the topology (docs/operations.md)");
  if (!loopback && spec.rpc_port != 0 && topo_.auth_token.empty())
    log_warning("node '" + name_ + "': the RPC port listens on " + host +
                " without auth_token: any client that reaches it may spawn and stop actors");
  log_info("node '" + name_ + "' up: node port " + std::to_string(port_) + ", rpc port " +
           std::to_string(gateway_.port) + (topo_.rpc_tls ? " (TLS)" : "") +
           (topo_.tls ? ", TLS between nodes"
            : tls     ? ", TLS between nodes with the cluster secret"
                      : "") +
           (topo_.auth_token.empty() ? "" : ", auth token required"));
}

caf::expected<std::unique_ptr<node>> node::start(topology topo, const std::string& name,
                                                 node_start_options opts) {
  if (topo.find_node(name) == nullptr)
    return make_llmos_error(error_code::no_such_node, topo.source + ": no node named '" + name +
                                                          "'; pass --node with one of "
                                                          "the nodes it declares");
  if (topo.seed.empty())
    topo.seed = topo.nodes.front().name;
  std::unique_ptr<node> n{new node};
  n->kinds_ =
      opts.kinds ? opts.kinds : std::make_shared<const actor_kind_table>(builtin_actor_kinds());
  auto methods =
      opts.methods ? opts.methods : std::make_shared<const method_table>(builtin_methods());
  caf::error err;
  n->config_ = make_config(topo, opts, err);
  if (!n->config_)
    return err;
  n->system_ = std::make_unique<caf::actor_system>(*n->config_);
  n->topo_ = std::move(topo);
  n->name_ = name;
  const auto& spec = *n->topo_.find_node(name);
  const bool tls = n->topo_.tls.has_value() || !n->topo_.cluster_secret.empty();
  node_manager_config nm_cfg;
  nm_cfg.topo = n->topo_;
  nm_cfg.self = name;
  nm_cfg.kinds = n->kinds_.get();
  nm_cfg.tls = tls;
  if (name == n->topo_.seed) {
    n->directory_ = spawn_directory(*n->system_);
    nm_cfg.directory = n->directory_;
  }
  n->manager_ = spawn_node_manager(*n->system_, std::move(nm_cfg));
  if (n->directory_)
    n->register_system_actor("directory", "directory", caf::actor_cast<caf::actor>(n->directory_));
  if (auto e = n->publish_node_port(spec, tls))
    return e;
  if (auto e = n->start_rpc(spec, opts, std::move(methods)))
    return e;
  n->report_up(spec, tls);
  return n;
}

caf::expected<std::unique_ptr<node>> node::start_embedded(node_start_options opts) {
  return start(embedded_topology(), "local", std::move(opts));
}

node::~node() {
  if (!system_)
    return;
  if (gateway_.broker)
    caf::anon_send_exit(gateway_.broker, caf::exit_reason::user_shutdown);
  // The broker ends first: it releases its handles of the main system's actors while that
  // system still runs. Its own system goes last, when no actor of the main one refers to it.
  if (rpc_system_)
    rpc_system_->await_all_actors_done();
  caf::anon_send_exit(manager_, caf::exit_reason::user_shutdown);
  if (directory_)
    caf::anon_send_exit(directory_, caf::exit_reason::user_shutdown);
  gateway_ = {};
  // The actor system's destructor waits for every actor, then stops the middleman.
  system_.reset();
  rpc_system_.reset();
}

} // namespace llmos
