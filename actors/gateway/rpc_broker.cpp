// The gateway broker: owns the msgpack-RPC listening socket and its connections. It only moves
// bytes: frames are decoded here, calls go to the dispatcher, responses are written back in
// whatever order they complete (msgpack-RPC matches them by msgid). Bad input costs the
// sender its connection or an error reply, never the node; what clients may hold of the node's
// memory is bounded by an rpc_budget (connections, partial frames, calls in flight, unread
// answers); a client that sends calls faster than it reads their answers is cut off. With a TLS
// context every connection speaks TLS (memory-buffer channels: bytes in, plaintext out).
#include <functional>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>

#include "gateway/call_deadlines.hpp"
#include "gateway/rpc_budget.hpp"
#include "gateway/rpc_params.hpp"
#include "llmos/actors/gateway.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/secret_compare.hpp"
#include "llmos/runtime/tls_channel.hpp"

namespace llmos {
namespace {

// How often waiting calls are checked against their limits (call_deadlines.hpp).
constexpr auto deadline_check = std::chrono::milliseconds(250);

// CAF's own timeout of a call to the dispatcher, past every limit a client can choose: it only
// frees the response handler of a call that is never answered.
constexpr auto call_backstop = std::chrono::minutes(25 * 60);

// A TLS connection that has not completed its handshake by then is closed: a plaintext client's
// first bytes can look like the start of a long SSLv2 record, and OpenSSL would wait for the
// rest forever; so would a client that connects and sends nothing.
constexpr auto handshake_timeout = std::chrono::seconds(10);

struct connection {
  explicit connection(const rpc::limits& lim) : decoder(lim) {}
  rpc::frame_decoder decoder;
  std::unique_ptr<tls::channel> tls; ///< present when the port speaks TLS
  bool authenticated = false;
  bool paused = false;    ///< its calls wait in the decoder until answers fall under the bounds
  bool retry_due = false; ///< a retry message for its rate limit is on its way
  uint64_t serial = 0;    ///< tells this connection from a later one with the same handle
  std::chrono::milliseconds call_limit = default_call_limit; ///< chosen with `timeout`
};

struct broker_config {
  caf::actor dispatcher;
  std::string auth_token;
  rpc::limits limits;
  rpc_bounds bounds;
  std::shared_ptr<tls::context> tls; ///< a server context: the port speaks TLS only
  caf::io::doorman_ptr listener;     ///< the bound port, handed to the broker when it starts
};

std::string error_code_name(const caf::error& err) {
  if (err.category() == error_category)
    return to_string(static_cast<error_code>(err.code()));
  if (err.category() == caf::atom("system"))
    return to_string(static_cast<caf::sec>(err.code())); // e.g. request_timeout
  return caf::to_string(err.category());
}

caf::behavior gateway_broker(caf::io::broker* self, broker_config cfg) {
  // Linked: the dispatcher lives exactly as long as the broker.
  self->link_to(cfg.dispatcher);
  if (cfg.listener)
    self->add_doorman(std::move(cfg.listener));
  auto conns = std::make_shared<std::map<caf::io::connection_handle, connection>>();
  auto budget = std::make_shared<rpc_budget>(cfg.bounds);
  auto deadlines = std::make_shared<call_deadlines>();
  auto serials = std::make_shared<uint64_t>(0);
  auto check_due = std::make_shared<bool>(false);
  auto id = [](caf::io::connection_handle hdl) { return static_cast<uint64_t>(hdl.id()); };

  // CAF sends no connection_closed_msg for a close of our own, and a new connection may get the
  // same handle (the fd) at once: what belongs to this one goes now, so that answers of its
  // calls can never reach the next client.
  auto close = [=](caf::io::connection_handle hdl, const std::string& why) {
    log_warning("gateway: closing connection: " + why);
    budget->close(id(hdl));
    deadlines->drop(id(hdl));
    conns->erase(hdl);
    self->close(hdl);
  };

  // Writes what is on the wire: the bytes themselves, or their TLS records.
  auto send_wire = [=](caf::io::connection_handle hdl, const std::string& out) {
    if (out.empty())
      return;
    budget->wrote(id(hdl), out.size());
    self->write(hdl, out.size(), out.data());
    self->flush(hdl);
  };

  auto send = [=](caf::io::connection_handle hdl, const std::string& out) {
    auto i = conns->find(hdl);
    if (i == conns->end())
      return; // the client went away before its answer was ready
    if (!i->second.tls)
      return send_wire(hdl, out);
    if (auto err = i->second.tls->write(out))
      return close(hdl, describe(err));
    send_wire(hdl, i->second.tls->take_output());
  };

  auto respond = [=](caf::io::connection_handle hdl, uint32_t msgid,
                     caf::expected<std::string> result) {
    std::string out;
    if (result)
      rpc::encode_response(out, msgid, {}, *result);
    else
      rpc::encode_response(
          out, msgid, rpc::pack_error(error_code_name(result.error()), describe(result.error())),
          {});
    send(hdl, out);
  };

  // Set below: reads on from a connection whose calls and answers fell back under the bounds
  // (handle_request and drain need each other).
  auto resume_fn = std::make_shared<std::function<void(caf::io::connection_handle)>>();
  auto resume = [resume_fn](caf::io::connection_handle hdl) { (*resume_fn)(hdl); };

  auto handle_request = [=](caf::io::connection_handle hdl, rpc::request& req) {
    auto& conn = conns->at(hdl); // drain() only calls this for open connections
    if (req.method == "auth") {
      auto token = param_string(req.params, 0, "auth", "TOKEN");
      if (!token)
        return respond(hdl, req.msgid, std::move(token.error()));
      if (cfg.auth_token.empty() || secrets_equal(cfg.auth_token, *token)) {
        conn.authenticated = true;
        return respond(hdl, req.msgid, std::string{"\xc3"}); // msgpack true
      }
      return respond(hdl, req.msgid,
                     make_llmos_error(error_code::unauthorized, "auth: wrong token"));
    }
    if (req.method == "timeout") { // this connection's limit for each later call
      auto ms = param_uint(req.params, 0, "timeout", "MS");
      if (ms && (*ms == 0 || *ms > static_cast<uint64_t>(max_call_limit.count())))
        ms = make_llmos_error(error_code::bad_params,
                              "timeout: MS is " + std::to_string(*ms) + "; give 1 to " +
                                  std::to_string(max_call_limit.count()) + " (24 h)");
      if (!ms)
        return respond(hdl, req.msgid, std::move(ms.error()));
      conn.call_limit = std::chrono::milliseconds{*ms};
      return respond(hdl, req.msgid, std::string{"\xc3"}); // msgpack true
    }
    msgpack::sbuffer params;
    msgpack::pack(params, req.params);
    const bool authed = conn.authenticated || cfg.auth_token.empty();
    const auto msgid = req.msgid;
    const bool notification = req.notification;
    budget->call_started(id(hdl));
    const auto key = deadlines->start(
        call_deadlines::call{id(hdl), msgid, notification, req.method, conn.call_limit, {}},
        std::chrono::steady_clock::now());
    if (!*check_due) {
      *check_due = true;
      self->delayed_send(self, deadline_check, tick_atom::value);
    }
    // The call counts as in flight until its real answer, also when its client was told
    // request_timeout before: a short limit must not let a client start more work than
    // max_in_flight allows.
    const auto serial = conn.serial;
    auto answered = [=](caf::expected<std::string> result) {
      const bool waiting = deadlines->finish(key); // false: told request_timeout, or closed
      auto i = conns->find(hdl);
      if (i == conns->end() || i->second.serial != serial)
        return; // closed: its counts went with it (a new connection may have its handle)
      budget->call_ended(id(hdl), 0);
      if (waiting && !notification)
        respond(hdl, msgid, std::move(result));
      resume(hdl);
    };
    // Sent without this broker's execution unit: CAF 0.17 schedules a receiver on the sender's
    // unit when it has one, and the broker's is the multiplexer of the RPC port's own system
    // (start_gateway), so the dispatcher (and every actor it asks) would move over to that
    // system's one scheduler thread. Without a unit the dispatcher runs on its own system.
    auto* unit = self->context();
    self->context(nullptr);
    self->request(cfg.dispatcher, call_backstop, rpc_call_atom::value, std::move(req.method),
                  std::string{params.data(), params.size()}, authed, id(hdl))
        .then([=](std::string& packed) { answered(std::move(packed)); },
              [=](caf::error& err) {
                // The dispatcher is gone: the gateway is stopping (its exit reaches this broker
                // next). The client sees its connection close, as when a gateway stopped.
                if (err == caf::sec::request_receiver_down) {
                  if (auto i = conns->find(hdl); i != conns->end() && i->second.serial == serial)
                    return close(hdl, "the gateway is stopping");
                }
                answered(std::move(err));
              });
    self->context(unit);
  };

  auto drain = [=](caf::io::connection_handle hdl) {
    for (;;) {
      auto i = conns->find(hdl);
      if (i == conns->end())
        return;
      // CAF 0.17's halt()/trigger() cannot pause a connection's reading: a scribe halted once
      // never reads again (measured: pipelined clients hung). So a connection over its bounds
      // keeps being read, its calls wait in the decoder, and what waits there is bounded below.
      if (!budget->may_call(id(hdl))) {
        i->second.paused = true;
        return;
      }
      // Over its rate: its calls wait in the decoder (bounded as above) until tokens refill.
      if (auto wait = budget->rate_wait(id(hdl), std::chrono::steady_clock::now());
          wait.count() > 0) {
        i->second.paused = true;
        if (!i->second.retry_due)
          self->delayed_send(self, wait, retry_atom::value, id(hdl));
        i->second.retry_due = true;
        return;
      }
      auto item = i->second.decoder.next();
      if (std::holds_alternative<std::monostate>(item))
        return;
      if (auto* req = std::get_if<rpc::request>(&item)) {
        handle_request(hdl, *req);
      } else if (auto* err = std::get_if<rpc::frame_error>(&item)) {
        const auto code = err->what == rpc::frame_error::kind::too_large
                              ? error_code::frame_too_large
                              : error_code::malformed_frame;
        if (err->msgid)
          respond(hdl, *err->msgid, make_llmos_error(code, err->message));
        if (err->fatal)
          return close(hdl, err->message);
      } else {
        return close(hdl, "a client sent a response frame; only requests are accepted");
      }
    }
  };

  *resume_fn = [=](caf::io::connection_handle hdl) {
    auto i = conns->find(hdl);
    if (i == conns->end() || !i->second.paused || !budget->may_call(id(hdl)))
      return;
    i->second.paused = false;
    drain(hdl);
  };

  return {
      [=](const caf::io::new_connection_msg& msg) {
        if (!budget->open(id(msg.handle))) {
          log_warning("gateway: refusing a connection: " +
                      std::to_string(budget->bounds().max_connections) + " are open");
          self->close(msg.handle);
          return;
        }
        auto& conn = conns->try_emplace(msg.handle, cfg.limits).first->second;
        conn.serial = ++*serials;
        if (cfg.tls) {
          conn.tls = std::make_unique<tls::channel>(cfg.tls);
          self->delayed_send(self, handshake_timeout, tick_atom::value, id(msg.handle),
                             conn.serial);
        }
        self->configure_read(msg.handle, caf::io::receive_policy::at_most(64 * 1024));
        self->ack_writes(msg.handle, true); // data_transferred_msg: how much is still unsent
      },
      [=](const caf::io::new_data_msg& msg) {
        auto i = conns->find(msg.handle);
        if (i == conns->end())
          return;
        if (auto& tls = i->second.tls) {
          std::string plain;
          auto err = tls->feed(msg.buf.data(), msg.buf.size(), plain);
          send_wire(msg.handle, tls->take_output()); // handshake answers, alerts
          if (err)
            return close(msg.handle, describe(err));
          i->second.decoder.feed(plain.data(), plain.size());
        } else {
          i->second.decoder.feed(msg.buf.data(), msg.buf.size());
        }
        drain(msg.handle);
        i = conns->find(msg.handle);
        if (i == conns->end())
          return;
        const auto pending = i->second.decoder.pending_bytes();
        if (i->second.paused && pending > budget->bounds().max_unsent_bytes)
          return close(msg.handle, "the client sends calls faster than it reads their answers (" +
                                       std::to_string(pending) + " bytes of calls waiting)");
        if (!budget->buffer(id(msg.handle), pending))
          close(msg.handle, "the node's RPC buffers are full (" +
                                std::to_string(budget->buffered_bytes()) +
                                " bytes of unfinished frames on " +
                                std::to_string(budget->connections()) + " connections)");
      },
      [=](const caf::io::data_transferred_msg& msg) {
        budget->sent(id(msg.handle), msg.remaining);
        resume(msg.handle);
      },
      [=](const caf::io::connection_closed_msg& msg) {
        budget->close(id(msg.handle));
        deadlines->drop(id(msg.handle));
        conns->erase(msg.handle);
      },
      [=](tick_atom) { // calls past their limit are answered request_timeout
        for (auto& c : deadlines->expire(std::chrono::steady_clock::now())) {
          auto hdl = caf::io::connection_handle::from_int(static_cast<int64_t>(c.connection));
          if (!c.notification)
            respond(hdl, c.msgid,
                    caf::make_error(caf::sec::request_timeout,
                                    c.method + ": no answer within " +
                                        std::to_string(c.limit.count()) +
                                        " ms since the call or its last progress (this "
                                        "connection's limit; the 'timeout' method sets it)"));
        }
        *check_due = !deadlines->empty();
        if (*check_due)
          self->delayed_send(self, deadline_check, tick_atom::value);
      },
      [=](notify_atom, uint64_t connection, const std::string& method, const std::string& params) {
        auto hdl = caf::io::connection_handle::from_int(static_cast<int64_t>(connection));
        std::string out;
        rpc::encode_notification(out, method, params);
        deadlines->alive(connection, std::chrono::steady_clock::now()); // its calls are at work
        send(hdl, out); // nothing when the caller went away: its progress has no reader
      },
      [=](retry_atom, uint64_t connection) { // a rate-limited connection's tokens refilled
        auto hdl = caf::io::connection_handle::from_int(static_cast<int64_t>(connection));
        if (auto i = conns->find(hdl); i != conns->end()) {
          i->second.retry_due = false;
          resume(hdl);
        }
      },
      [=](tick_atom, uint64_t connection, uint64_t serial) { // a TLS handshake's deadline
        auto hdl = caf::io::connection_handle::from_int(static_cast<int64_t>(connection));
        if (auto i = conns->find(hdl);
            i != conns->end() && i->second.serial == serial && !i->second.tls->established())
          close(hdl,
                "TLS: no handshake within " + std::to_string(handshake_timeout.count()) + " s");
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
