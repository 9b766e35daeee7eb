// The RPC dispatcher: turns (method, packed params) into the typed conversation registered for
// that method and answers with the packed typed reply. It is an ordinary actor, so the method
// table is exercised by deterministic tests without sockets.
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "llmos/actors/gateway.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/drain.hpp"

namespace llmos {
namespace {

/// Why `method` (m, null when unknown) is not called; none when it is.
caf::error refusal(const std::string& method, const rpc_method* m, bool authenticated) {
  if (m == nullptr)
    return make_llmos_error(error_code::no_such_method,
                            "no method '" + method + "'; 'methods' lists them");
  // A stopping node takes no new calls (drain.hpp); those it took finish.
  if (drain::active())
    return make_llmos_error(error_code::unavailable,
                            method + ": the node is stopping; retry on another node");
  if (m->mutates && !authenticated)
    return make_llmos_error(error_code::unauthorized,
                            method + " changes state: authenticate first (auth TOKEN, or "
                                     "llmos-repl --token / LLMOS_TOKEN)");
  return {};
}

/// The call's params, bounded: a frame never becomes deeper trees, or more elements, than a
/// call needs (nested arrays a frame deep would otherwise overflow the stack of every walk).
caf::expected<std::shared_ptr<msgpack::object_handle>> unpack_params(const std::string& method,
                                                                     const std::string& params) {
  auto handle = std::make_shared<msgpack::object_handle>();
  try {
    *handle = msgpack::unpack(
        params.data(), params.size(), nullptr, nullptr,
        msgpack::unpack_limit(1u << 20, 1u << 20, 64u << 20, 64u << 20, 1u << 20, 32));
  } catch (const std::exception& e) {
    return make_llmos_error(error_code::bad_params,
                            method + ": params are not msgpack: " + e.what());
  }
  return handle;
}

void dispatch(caf::event_based_actor* self, const node_manager_actor& manager,
              const std::shared_ptr<const method_table>& table, const std::string& method,
              const std::string& params, bool authenticated, uint64_t connection,
              caf::response_promise rp, const caf::actor& broker) {
  const auto* m = table->find(method);
  if (auto err = refusal(method, m, authenticated)) {
    rp.deliver(std::move(err));
    return;
  }
  auto handle = unpack_params(method, params);
  if (!handle) {
    rp.deliver(std::move(handle.error()));
    return;
  }
  rpc_call call;
  call.self = self;
  call.manager = manager;
  call.params = &(*handle)->get();
  call.authenticated = authenticated;
  call.table = table.get();
  // Notifications go back through the broker that owns the caller's connection.
  call.notify = [broker, connection](const std::string& name, std::string packed) {
    caf::anon_send(broker, notify_atom::value, connection, name, std::move(packed));
  };
  // The reply keeps the params' memory alive until the handler is done with them, and counts
  // the call as in flight until then.
  auto counted = std::make_shared<std::optional<drain::request_guard>>(std::in_place);
  call.reply = [rp, handle = *handle, counted](caf::expected<std::string> result) mutable {
    counted->reset();
    if (result)
      rp.deliver(std::move(*result));
    else
      rp.deliver(std::move(result.error()));
  };
  // A method that throws (an unchecked conversion of outside input) answers an error instead
  // of taking the dispatcher, and with it the node's RPC endpoint, down.
  try {
    m->call(call);
  } catch (const std::exception& e) {
    rp.deliver(make_llmos_error(error_code::bad_params,
                                method + ": could not use the params: " + e.what()));
  }
}

caf::behavior dispatcher(caf::event_based_actor* self, node_manager_actor manager,
                         std::shared_ptr<const method_table> table) {
  return {
      [=](rpc_call_atom, const std::string& method, const std::string& params, bool authenticated,
          uint64_t connection) -> caf::response_promise {
        // Read the sender first: make_response_promise takes it over (and clears it).
        auto broker = caf::actor_cast<caf::actor>(self->current_sender());
        auto rp = self->make_response_promise();
        dispatch(self, manager, table, method, params, authenticated, connection, rp, broker);
        return rp;
      },
  };
}

} // namespace

caf::actor spawn_rpc_dispatcher(caf::actor_system& sys, node_manager_actor manager,
                                std::shared_ptr<const method_table> table) {
  return sys.spawn(dispatcher, std::move(manager), std::move(table));
}

} // namespace llmos
