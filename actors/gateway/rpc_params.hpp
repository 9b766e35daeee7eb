// Reading msgpack-RPC params and packing typed replies. Params are an array (the msgpack-RPC
// convention); every accessor names the argument it wanted, so a client sees e.g.
// "spawn: argument 2 (KIND) must be a string, got integer".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include <caf/exit_reason.hpp>
#include <caf/expected.hpp>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "llmos/actors/method_table.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/device.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/wire_msgpack.hpp"

namespace llmos {

/// Number of positional params (0 for nil, 1 for a lone non-array value).
std::size_t param_count(const msgpack::object& params);

/// Positional param `i` as a string.
caf::expected<std::string> param_string(const msgpack::object& params, std::size_t i,
                                        const std::string& method, const std::string& what);

/// Positional param `i` as an unsigned integer.
caf::expected<uint64_t> param_uint(const msgpack::object& params, std::size_t i,
                                   const std::string& method, const std::string& what);

/// Positional param `i` as a map with scalar values rendered as strings; absent = empty map
/// (call_options.hpp reads one option by one).
caf::expected<std::map<std::string, std::string>>
param_map(const msgpack::object& params, std::size_t i, const std::string& method);

/// Param `i` as a msgpack map object (absent or nil = nullptr).
caf::expected<const msgpack::object*> param_object(const msgpack::object& params, std::size_t i,
                                                   const std::string& method);

/// Resolves actor `name` through the node's directory, then calls `then` with its handle; a
/// failed lookup answers the call with the error.
void resolve_actor(rpc_call& c, const std::string& name, std::function<void(caf::actor)> then);

/// An actor that turns (progress_atom, progress_event) into "progress" notifications on the
/// caller's connection; the caller sends it an exit when the call ends.
caf::actor spawn_progress_sink(rpc_call& c);

using packer = msgpack::packer<msgpack::sbuffer>;

/// A JSON value packed into a string (replies shown by the REPL like every other answer).
std::string packed(const nlohmann::json& j);

/// A typed reply (a message, a list of them, a scalar) in its msgpack form (wire_msgpack.hpp).
template <class T> std::string pack_to_string(const T& x) {
  return wire::to_msgpack(x);
}

/// Sends `msg...` to `dest` and answers the RPC call with the packed typed reply (or the error).
template <class Result, class Handle, class... Ts>
void forward(rpc_call& c, const Handle& dest, std::chrono::milliseconds timeout, Ts&&... msg) {
  auto reply = c.reply;
  c.self->request(dest, timeout, std::forward<Ts>(msg)...)
      .then([=](Result& result) { reply(pack_to_string(result)); },
            [=](caf::error& err) { reply(std::move(err)); });
}

/// JSON text packed as the structured value it holds (an actor's report travels as text inside
/// the node); text that is not JSON is packed as a string.
std::string packed_json_text(const std::string& text);

/// Sends `msg...` to `dest`, whose reply is a JSON document as text, and answers the RPC call
/// with the structured value: a client never gets JSON inside a string.
template <class Handle, class... Ts>
void forward_json(rpc_call& c, const Handle& dest, std::chrono::milliseconds timeout, Ts&&... msg) {
  auto reply = c.reply;
  c.self->request(dest, timeout, std::forward<Ts>(msg)...)
      .then([=](std::string& text) { reply(packed_json_text(text)); },
            [=](caf::error& err) { reply(std::move(err)); });
}

/// Sends `msg...` to `dest`, whose reply is one value (a path, a name, a count, a flag), and
/// answers the RPC call with it as the object {key: value}.
template <class Value = std::string, class Handle, class... Ts>
void forward_as_field(rpc_call& c, const char* key, const Handle& dest,
                      std::chrono::milliseconds timeout, Ts&&... msg) {
  auto reply = c.reply;
  std::string k = key;
  c.self->request(dest, timeout, std::forward<Ts>(msg)...)
      .then(
          [=](Value& value) {
            reply(packed(nlohmann::json{{k, value}}));
          },
          [=](caf::error& err) { reply(std::move(err)); });
}

/// Sends `msg...` to `dest` and answers the RPC call with `pack(result)` (or the error). Either
/// way `sink`, the actor that passes the call's progress on as notifications, is stopped then:
/// nothing more comes for a call that has ended.
template <class Result, class Pack, class Handle, class... Ts>
void forward_then_stop(rpc_call& c, const caf::actor& sink, Pack pack, const Handle& dest,
                       std::chrono::milliseconds timeout, Ts&&... msg) {
  auto* self = c.self;
  auto reply = c.reply;
  self->request(dest, timeout, std::forward<Ts>(msg)...)
      .then(
          [=](Result& result) {
            self->send_exit(sink, caf::exit_reason::user_shutdown);
            reply(pack(result));
          },
          [=](caf::error& err) {
            self->send_exit(sink, caf::exit_reason::user_shutdown);
            reply(std::move(err));
          });
}

/// The usual `pack` of forward_then_stop: the typed reply in its msgpack form.
inline constexpr auto packed_reply = [](const auto& x) { return pack_to_string(x); };

} // namespace llmos
