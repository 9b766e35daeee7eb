// The RPC port's session: the state of the gateway broker (rpc_broker.cpp) and its steps, one
// named function each. It only moves bytes: frames are decoded here, calls go to the
// dispatcher, responses are written back in whatever order they complete (msgpack-RPC matches
// them by msgid). Bad input costs the sender its connection or an error reply, never the node;
// what clients may hold of the node's memory is bounded by an rpc_budget (connections, partial
// frames, calls in flight, unread answers); a client that sends calls faster than it reads their
// answers is cut off. With a TLS context every connection speaks TLS (memory-buffer channels:
// bytes in, plaintext out).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/io/broker.hpp>

#include "gateway/call_deadlines.hpp"
#include "gateway/rpc_budget.hpp"
#include "llmos/runtime/rpc_codec.hpp"
#include "llmos/runtime/tls_channel.hpp"

namespace llmos {

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

/// The broker's state and its steps: one connection map, the budget that bounds what clients
/// hold, the deadlines of calls in flight. Shared by the behaviour's handlers and the answer
/// callbacks of the calls it sent (which may come after a connection closed).
class rpc_session : public std::enable_shared_from_this<rpc_session> {
public:
  rpc_session(caf::io::broker* self, broker_config cfg)
      : self_(self), cfg_(std::move(cfg)), budget_(cfg_.bounds) {}

  const broker_config& config() const { return cfg_; }

  void accept(caf::io::connection_handle hdl);
  void received(caf::io::connection_handle hdl, const std::vector<char>& buf);
  void written(caf::io::connection_handle hdl, uint64_t remaining) {
    budget_.sent(id(hdl), remaining);
    resume(hdl);
  }
  void closed(caf::io::connection_handle hdl) { forget(hdl); }
  void expire_calls();
  void notify(uint64_t serial, const std::string& method, const std::string& params);
  void retry(uint64_t connection);
  void handshake_due(uint64_t connection, uint64_t serial);

private:
  using clock = std::chrono::steady_clock;

  static uint64_t id(caf::io::connection_handle hdl) { return static_cast<uint64_t>(hdl.id()); }
  static caf::io::connection_handle handle(uint64_t connection) {
    return caf::io::connection_handle::from_int(static_cast<int64_t>(connection));
  }

  void forget(caf::io::connection_handle hdl) {
    budget_.close(id(hdl));
    deadlines_.drop(id(hdl));
    if (auto i = conns_.find(hdl); i != conns_.end()) {
      by_serial_.erase(i->second.serial);
      conns_.erase(i);
    }
  }
  void close(caf::io::connection_handle hdl, const std::string& why);
  void send_wire(caf::io::connection_handle hdl, const std::string& out);
  void send(caf::io::connection_handle hdl, const std::string& out);
  void respond(caf::io::connection_handle hdl, uint32_t msgid, caf::expected<std::string> result);
  void drain(caf::io::connection_handle hdl);
  void resume(caf::io::connection_handle hdl);
  void take_frame_error(caf::io::connection_handle hdl, const rpc::frame_error& err);
  void check_buffers(caf::io::connection_handle hdl);
  void handle_request(caf::io::connection_handle hdl, rpc::request& req);
  void authenticate(caf::io::connection_handle hdl, connection& conn, rpc::request& req);
  void set_call_limit(caf::io::connection_handle hdl, connection& conn, rpc::request& req);
  void dispatch(caf::io::connection_handle hdl, connection& conn, rpc::request& req);
  void answered(caf::io::connection_handle hdl, uint64_t serial, uint64_t key, uint32_t msgid,
                bool notification, caf::expected<std::string> result);

  caf::io::broker* self_;
  broker_config cfg_;
  std::map<caf::io::connection_handle, connection> conns_;
  /// Each open connection by its serial: the dispatcher names a caller's connection by its
  /// serial, never by its handle, because CAF hands a closed connection's handle (its fd) to the
  /// next one at once, and a closed call's late progress must not reach the next client.
  std::map<uint64_t, caf::io::connection_handle> by_serial_;
  rpc_budget budget_;
  call_deadlines deadlines_;
  uint64_t serials_ = 0;
  bool check_due_ = false; ///< a deadline check (tick) is on its way
};

} // namespace llmos
