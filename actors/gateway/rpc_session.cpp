// The RPC port's session (rpc_session.hpp): accepting, reading, dispatching and answering.
#include "gateway/rpc_session.hpp"

#include "gateway/rpc_params.hpp"
#include "llmos/actors/gateway.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/secret_compare.hpp"
#include "llmos/runtime/serving_load.hpp"

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

std::string error_code_name(const caf::error& err) {
  if (err.category() == error_category)
    return to_string(static_cast<error_code>(err.code()));
  if (err.category() == caf::atom("system"))
    return to_string(static_cast<caf::sec>(err.code())); // e.g. request_timeout
  return caf::to_string(err.category());
}

/// The broker's state and its steps: one connection map, the budget that bounds what clients
/// hold, the deadlines of calls in flight. Shared by the behaviour's handlers and the answer
/// callbacks of the calls it sent (which may come after a connection closed).

} // namespace

// CAF sends no connection_closed_msg for a close of our own, and a new connection may get the
// same handle (the fd) at once: what belongs to this one goes now, so that answers of its calls
// can never reach the next client.
void rpc_session::close(caf::io::connection_handle hdl, const std::string& why) {
  log_warning("gateway: closing connection: " + why);
  forget(hdl);
  self_->close(hdl);
}

/// Writes what is on the wire: the bytes themselves, or their TLS records.
void rpc_session::send_wire(caf::io::connection_handle hdl, const std::string& out) {
  if (out.empty())
    return;
  budget_.wrote(id(hdl), out.size());
  self_->write(hdl, out.size(), out.data());
  self_->flush(hdl);
}

void rpc_session::send(caf::io::connection_handle hdl, const std::string& out) {
  auto i = conns_.find(hdl);
  if (i == conns_.end())
    return; // the client went away before its answer was ready
  if (!i->second.tls)
    return send_wire(hdl, out);
  if (auto err = i->second.tls->write(out))
    return close(hdl, describe(err));
  send_wire(hdl, i->second.tls->take_output());
}

void rpc_session::respond(caf::io::connection_handle hdl, uint32_t msgid,
                          caf::expected<std::string> result) {
  std::string out;
  if (result)
    rpc::encode_response(out, msgid, {}, *result);
  else
    rpc::encode_response(
        out, msgid, rpc::pack_error(error_code_name(result.error()), describe(result.error())), {});
  send(hdl, out);
}

void rpc_session::handle_request(caf::io::connection_handle hdl, rpc::request& req) {
  auto& conn = conns_.at(hdl); // drain() only calls this for open connections
  if (req.method == "auth")
    return authenticate(hdl, conn, req);
  if (req.method == "timeout")
    return set_call_limit(hdl, conn, req);
  dispatch(hdl, conn, req);
}

void rpc_session::authenticate(caf::io::connection_handle hdl, connection& conn,
                               rpc::request& req) {
  auto token = param_string(req.params, 0, "auth", "TOKEN");
  if (!token)
    return respond(hdl, req.msgid, std::move(token.error()));
  if (cfg_.auth_token.empty() || secrets_equal(cfg_.auth_token, *token)) {
    conn.authenticated = true;
    return respond(hdl, req.msgid, std::string{"\xc3"}); // msgpack true
  }
  respond(hdl, req.msgid, make_llmos_error(error_code::unauthorized, "auth: wrong token"));
}

/// `timeout MS`: this connection's limit for each later call.
void rpc_session::set_call_limit(caf::io::connection_handle hdl, connection& conn,
                                 rpc::request& req) {
  auto ms = param_uint(req.params, 0, "timeout", "MS");
  if (ms && (*ms == 0 || *ms > static_cast<uint64_t>(max_call_limit.count())))
    ms = make_llmos_error(error_code::bad_params,
                          "timeout: MS is " + std::to_string(*ms) + "; give 1 to " +
                              std::to_string(max_call_limit.count()) + " (24 h)");
  if (!ms)
    return respond(hdl, req.msgid, std::move(ms.error()));
  conn.call_limit = std::chrono::milliseconds{*ms};
  respond(hdl, req.msgid, std::string{"\xc3"}); // msgpack true
}

/// Hands a call to the dispatcher; its answer comes back through answered().
void rpc_session::dispatch(caf::io::connection_handle hdl, connection& conn, rpc::request& req) {
  msgpack::sbuffer params;
  msgpack::pack(params, req.params);
  const bool authed = conn.authenticated || cfg_.auth_token.empty();
  const auto msgid = req.msgid;
  const bool notification = req.notification;
  budget_.call_started(id(hdl));
  const auto key = deadlines_.start(
      call_deadlines::call{id(hdl), msgid, notification, req.method, conn.call_limit, {}},
      clock::now());
  if (!check_due_) {
    check_due_ = true;
    self_->delayed_send(self_, deadline_check, tick_atom::value);
  }
  const auto serial = conn.serial;
  auto me = shared_from_this();
  // Sent without this broker's execution unit: CAF 0.17 schedules a receiver on the sender's
  // unit when it has one, and the broker's is the multiplexer of the RPC port's own system
  // (start_gateway), so the dispatcher (and every actor it asks) would move over to that
  // system's one scheduler thread. Without a unit the dispatcher runs on its own system.
  auto* unit = self_->context();
  self_->context(nullptr);
  self_
      ->request(cfg_.dispatcher, call_backstop, rpc_call_atom::value, std::move(req.method),
                std::string{params.data(), params.size()}, authed, serial)
      .then(
          [=](std::string& packed) {
            me->answered(hdl, serial, key, msgid, notification, std::move(packed));
          },
          [=](caf::error& err) {
            // The dispatcher is gone: the gateway is stopping (its exit reaches this broker
            // next). The client sees its connection close, as when a gateway stopped.
            if (err == caf::sec::request_receiver_down) {
              if (auto i = me->conns_.find(hdl);
                  i != me->conns_.end() && i->second.serial == serial)
                return me->close(hdl, "the gateway is stopping");
            }
            me->answered(hdl, serial, key, msgid, notification, std::move(err));
          });
  self_->context(unit);
}

// The call counts as in flight until its real answer, also when its client was told
// request_timeout before: a short limit must not let a client start more work than
// max_in_flight allows.
void rpc_session::answered(caf::io::connection_handle hdl, uint64_t serial, uint64_t key,
                           uint32_t msgid, bool notification, caf::expected<std::string> result) {
  const bool waiting = deadlines_.finish(key); // false: told request_timeout, or closed
  auto i = conns_.find(hdl);
  if (i == conns_.end() || i->second.serial != serial)
    return; // closed: its counts went with it (a new connection may have its handle)
  budget_.call_ended(id(hdl), 0);
  if (waiting && !notification)
    respond(hdl, msgid, std::move(result));
  resume(hdl);
}

/// Takes the connection's decoded calls one by one while its bounds and rate allow.
void rpc_session::drain(caf::io::connection_handle hdl) {
  for (;;) {
    auto i = conns_.find(hdl);
    if (i == conns_.end())
      return;
    // CAF 0.17's halt()/trigger() cannot pause a connection's reading: a scribe halted once
    // never reads again (measured: pipelined clients hung). So a connection over its bounds
    // keeps being read, its calls wait in the decoder, and what waits there is bounded
    // (check_buffers).
    if (!budget_.may_call(id(hdl))) {
      i->second.paused = true;
      return;
    }
    // Over its rate (a fixed one, or its share while the process serves HTTP requests): its
    // calls wait in the decoder (bounded as above) until tokens refill.
    const auto now = clock::now();
    if (auto wait = budget_.rate_wait(id(hdl), now, serving_load::busy(now)); wait.count() > 0) {
      i->second.paused = true;
      if (!i->second.retry_due)
        self_->delayed_send(self_, wait, retry_atom::value, id(hdl));
      i->second.retry_due = true;
      return;
    }
    auto item = i->second.decoder.next();
    if (std::holds_alternative<std::monostate>(item))
      return;
    if (auto* req = std::get_if<rpc::request>(&item)) {
      handle_request(hdl, *req);
    } else if (auto* err = std::get_if<rpc::frame_error>(&item)) {
      take_frame_error(hdl, *err);
    } else {
      return close(hdl, "a client sent a response frame; only requests are accepted");
    }
  }
}

void rpc_session::take_frame_error(caf::io::connection_handle hdl, const rpc::frame_error& err) {
  const auto code = err.what == rpc::frame_error::kind::too_large ? error_code::frame_too_large
                                                                  : error_code::malformed_frame;
  if (err.msgid)
    respond(hdl, *err.msgid, make_llmos_error(code, err.message));
  if (err.fatal)
    close(hdl, err.message);
}

/// Reads on from a connection whose calls and answers fell back under the bounds.
void rpc_session::resume(caf::io::connection_handle hdl) {
  auto i = conns_.find(hdl);
  if (i == conns_.end() || !i->second.paused || !budget_.may_call(id(hdl)))
    return;
  i->second.paused = false;
  drain(hdl);
}

void rpc_session::accept(caf::io::connection_handle hdl) {
  if (!budget_.open(id(hdl))) {
    log_warning("gateway: refusing a connection: " +
                std::to_string(budget_.bounds().max_connections) + " are open");
    self_->close(hdl);
    return;
  }
  auto& conn = conns_.try_emplace(hdl, cfg_.limits).first->second;
  conn.serial = ++serials_;
  by_serial_.emplace(conn.serial, hdl);
  if (cfg_.tls) {
    conn.tls = std::make_unique<tls::channel>(cfg_.tls);
    self_->delayed_send(self_, handshake_timeout, tick_atom::value, id(hdl), conn.serial);
  }
  self_->configure_read(hdl, caf::io::receive_policy::at_most(64 * 1024));
  self_->ack_writes(hdl, true); // data_transferred_msg: how much is still unsent
}

void rpc_session::received(caf::io::connection_handle hdl, const std::vector<char>& buf) {
  auto i = conns_.find(hdl);
  if (i == conns_.end())
    return;
  if (auto& tls = i->second.tls) {
    std::string plain;
    auto err = tls->feed(buf.data(), buf.size(), plain);
    send_wire(hdl, tls->take_output()); // handshake answers, alerts
    if (err)
      return close(hdl, describe(err));
    i->second.decoder.feed(plain.data(), plain.size());
  } else {
    i->second.decoder.feed(buf.data(), buf.size());
  }
  drain(hdl);
  check_buffers(hdl);
}

/// What a connection's unread calls and unfinished frames hold stays within the bounds.
void rpc_session::check_buffers(caf::io::connection_handle hdl) {
  auto i = conns_.find(hdl);
  if (i == conns_.end())
    return;
  const auto pending = i->second.decoder.pending_bytes();
  if (i->second.paused && pending > budget_.bounds().max_unsent_bytes)
    return close(hdl, "the client sends calls faster than it reads their answers (" +
                          std::to_string(pending) + " bytes of calls waiting)");
  if (!budget_.buffer(id(hdl), pending))
    close(hdl, "the node's RPC buffers are full (" + std::to_string(budget_.buffered_bytes()) +
                   " bytes of unfinished frames on " + std::to_string(budget_.connections()) +
                   " connections)");
}

/// Calls past their limit are answered request_timeout.
void rpc_session::expire_calls() {
  for (auto& c : deadlines_.expire(clock::now())) {
    if (!c.notification)
      respond(handle(c.connection), c.msgid,
              caf::make_error(caf::sec::request_timeout,
                              c.method + ": no answer within " + std::to_string(c.limit.count()) +
                                  " ms since the call or its last progress (this connection's "
                                  "limit; the 'timeout' method sets it)"));
  }
  check_due_ = !deadlines_.empty();
  if (check_due_)
    self_->delayed_send(self_, deadline_check, tick_atom::value);
}

/// A progress notification for a client's call (its connection named by serial): it also
/// proves the call is at work. Nothing when that connection has closed.
void rpc_session::notify(uint64_t serial, const std::string& method, const std::string& params) {
  auto c = by_serial_.find(serial);
  if (c == by_serial_.end())
    return; // the caller went away: its progress has no reader
  std::string out;
  rpc::encode_notification(out, method, params);
  deadlines_.alive(id(c->second), clock::now());
  send(c->second, out);
}

/// A rate-limited connection's tokens refilled.
void rpc_session::retry(uint64_t connection) {
  auto hdl = handle(connection);
  if (auto i = conns_.find(hdl); i != conns_.end()) {
    i->second.retry_due = false;
    resume(hdl);
  }
}

/// A TLS handshake's deadline.
void rpc_session::handshake_due(uint64_t connection, uint64_t serial) {
  auto hdl = handle(connection);
  if (auto i = conns_.find(hdl);
      i != conns_.end() && i->second.serial == serial && !i->second.tls->established())
    close(hdl, "TLS: no handshake within " + std::to_string(handshake_timeout.count()) + " s");
}

} // namespace llmos
