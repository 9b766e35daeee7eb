// The gateway broker: owns the msgpack-RPC listening socket and hands every event of its
// connections to an rpc_session (rpc_session.hpp), which bounds what clients may hold and moves
// their calls to the dispatcher.
#include <caf/actor_system.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>

#include "gateway/rpc_session.hpp"
#include "llmos/actors/gateway.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/log.hpp"

namespace llmos {
namespace {

caf::behavior gateway_broker(caf::io::broker* self, broker_config cfg) {
  // Linked: the dispatcher lives exactly as long as the broker.
  self->link_to(cfg.dispatcher);
  if (cfg.listener)
    self->add_doorman(std::move(cfg.listener));
  auto s = std::make_shared<rpc_session>(self, std::move(cfg));
  return {
      [=](const caf::io::new_connection_msg& msg) { s->accept(msg.handle); },
      [=](const caf::io::new_data_msg& msg) { s->received(msg.handle, msg.buf); },
      [=](const caf::io::data_transferred_msg& msg) { s->written(msg.handle, msg.remaining); },
      [=](const caf::io::connection_closed_msg& msg) { s->closed(msg.handle); },
      [=](tick_atom) { s->expire_calls(); },
      [=](notify_atom, uint64_t connection, const std::string& method, const std::string& params) {
        s->notify(connection, method, params);
      },
      [=](retry_atom, uint64_t connection) { s->retry(connection); },
      [=](tick_atom, uint64_t connection, uint64_t serial) {
        s->handshake_due(connection, serial);
      },
      [=](const caf::io::acceptor_closed_msg&) {
        log_error("gateway: the listening socket closed");
        self->quit();
      },
  };
}

} // namespace

caf::expected<gateway> start_gateway(caf::actor_system& sys, node_manager_actor manager,
                                     std::shared_ptr<const method_table> table,
                                     gateway_options opts) {
  gateway gw;
  gw.dispatcher = spawn_rpc_dispatcher(sys, std::move(manager), std::move(table));
  // The broker lives in the I/O system and the dispatcher in `sys`: in one process CAF delivers
  // messages (and links) between actors of two systems, but schedules an idle receiver on the
  // sender's execution unit, so the broker sends its calls without one (gateway_broker).
  auto& io = opts.io_system != nullptr ? *opts.io_system : sys;
  // Bound here rather than by spawn_server, which takes every interface and no address reuse.
  auto listener = io.middleman().backend().new_tcp_doorman(
      opts.port, opts.host.empty() ? nullptr : opts.host.c_str(), true);
  if (!listener) {
    caf::anon_send_exit(gw.dispatcher, caf::exit_reason::user_shutdown);
    return make_llmos_error(error_code::io_failed,
                            "gateway: cannot listen on " +
                                (opts.host.empty() ? std::string{} : opts.host + " ") + "port " +
                                std::to_string(opts.port) + ": " + sys.render(listener.error()));
  }
  gw.port = (*listener)->port();
  gw.broker = io.middleman().spawn_broker(
      gateway_broker, broker_config{gw.dispatcher, opts.auth_token, opts.limits, opts.bounds,
                                    opts.tls, std::move(*listener)});
  return gw;
}

} // namespace llmos
