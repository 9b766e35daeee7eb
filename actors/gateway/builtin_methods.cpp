// The built-in gateway methods: the node-level operations the REPL offers and the device kind's
// methods. Each handler checks its params, sends one typed message and packs the typed reply.
#include <cstring>

#include "gateway/dataset_methods.hpp"
#include "gateway/feedback_methods.hpp"
#include "gateway/model_methods.hpp"
#include "gateway/rpc_params.hpp"
#include "gateway/scheduler_methods.hpp"
#include "gateway/serving_methods.hpp"
#include "llmos/actors/method_table.hpp"
#include "llmos/messages/device.hpp"
#include "llmos/messages/error.hpp"

namespace llmos {
namespace {

constexpr auto call_timeout = std::chrono::seconds(30);

std::string pack_bool(bool value) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, value);
  return std::string{buf.data(), buf.size()};
}

void actors_method(rpc_call& c) {
  std::string node;
  if (param_count(*c.params) > 0) {
    auto n = param_string(*c.params, 0, "actors", "NODE");
    if (!n)
      return c.reply(std::move(n.error()));
    node = *n;
  }
  forward<std::vector<actor_entry>>(c, c.manager, call_timeout, actors_atom::value, node);
}

void spawn_method(rpc_call& c) {
  auto node = param_string(*c.params, 0, "spawn", "NODE");
  auto kind = param_string(*c.params, 1, "spawn", "KIND");
  auto config = param_map(*c.params, 2, "spawn");
  if (!node)
    return c.reply(std::move(node.error()));
  if (!kind)
    return c.reply(std::move(kind.error()));
  if (!config)
    return c.reply(std::move(config.error()));
  spawn_request req{*node, *kind, {}, std::move(*config)};
  // "name" is never a config key: it names the actor.
  if (auto i = req.config.find("name"); i != req.config.end()) {
    req.name = i->second;
    req.config.erase(i);
  }
  forward<actor_entry>(c, c.manager, call_timeout, spawn_atom::value, std::move(req));
}

/// stop: for good; kill: as a failure would end it, so that its node restarts it by policy.
auto end_actor(auto atom, const char* method) {
  return [atom, method](rpc_call& c) {
    auto name = param_string(*c.params, 0, method, "ACTOR");
    if (!name)
      return c.reply(std::move(name.error()));
    auto reply = c.reply;
    c.self->request(c.manager, call_timeout, atom, *name)
        .then([=](bool ok) { reply(pack_bool(ok)); },
              [=](caf::error& err) { reply(std::move(err)); });
  };
}

void methods_method(rpc_call& c) {
  auto all = c.table->list();
  msgpack::sbuffer buf;
  packer pk{buf};
  pk.pack_array(static_cast<uint32_t>(all.size()));
  for (const auto& [kind, m] : all) {
    pk.pack_map(5);
    pk.pack("kind").pack(kind);
    pk.pack("name").pack(m->name);
    pk.pack("usage").pack(m->usage);
    pk.pack("help").pack(m->help);
    pk.pack("mutates").pack(m->mutates);
  }
  c.reply(std::string{buf.data(), buf.size()});
}

/// The named actor's method `method` is called with the caller's call (its target set).
void call_on(const std::shared_ptr<rpc_call>& ctx, const std::string& name,
             const std::string& method, const actor_entry& entry) {
  const auto* m = ctx->table->find(entry.kind, method);
  if (m == nullptr)
    return ctx->reply(make_llmos_error(
        error_code::no_such_method, "actor '" + name + "' (kind " + entry.kind +
                                        ") has no method '" + method + "'; 'methods' lists them"));
  if (m->mutates && !ctx->authenticated)
    return ctx->reply(make_llmos_error(error_code::unauthorized,
                                       method + " changes state: authenticate first (auth TOKEN)"));
  ctx->target = entry.handle;
  m->call(*ctx);
}

void send_method(rpc_call& c) {
  auto name = param_string(*c.params, 0, "send", "ACTOR");
  auto method = param_string(*c.params, 1, "send", "METHOD");
  if (!name)
    return c.reply(std::move(name.error()));
  if (!method)
    return c.reply(std::move(method.error()));
  // The call outlives this frame: copy what the continuation needs.
  auto ctx = std::make_shared<rpc_call>(c);
  c.self->request(c.manager, call_timeout, get_atom::value, directory_atom::value)
      .then(
          [=](directory_actor& dir) {
            ctx->self->request(dir, call_timeout, lookup_atom::value, *name)
                .then([=](actor_entry& entry) { call_on(ctx, *name, *method, entry); },
                      [=](caf::error& err) { ctx->reply(std::move(err)); });
          },
          [=](caf::error& err) { ctx->reply(std::move(err)); });
}

void add_node_methods(method_table& t) {
  t.add({"ping", false, "ping", "is the node alive: its name, pid and uptime",
         [](rpc_call& c) { forward<pong>(c, c.manager, call_timeout, ping_atom::value); }});
  t.add({"nodes", false, "nodes", "every node of the topology and its state seen from here",
         [](rpc_call& c) {
           forward<std::vector<node_status>>(c, c.manager, call_timeout, nodes_atom::value);
         }});
  t.add({"actors", false, "actors [NODE]", "every named actor of the cluster, or of one node",
         actors_method});
  t.add({"spawn", true, "spawn NODE KIND [name=NAME] [key=value...]",
         "start an actor of a registered kind on a node", spawn_method});
  t.add({"stop", true, "stop ACTOR", "stop a named actor wherever it runs (no restart)",
         end_actor(stop_atom::value, "stop")});
  t.add({"kill", true, "kill ACTOR",
         "end a named actor as a crash would; its node restarts it under its restart policy",
         end_actor(kill_atom::value, "kill")});
  t.add({"methods", false, "methods", "the methods this gateway maps to typed messages",
         methods_method});
  t.add({"send", false, "send ACTOR METHOD [key=value...]",
         "call a method of a named actor (see 'methods' for each kind's)", send_method});
}

// Reads a float tensor from {"values": [..]} or {"data": bin, "shape": [..]}.
caf::expected<tensor_bytes> tensor_param(const msgpack::object& params) {
  auto opts = param_object(params, 2, "gelu");
  if (!opts)
    return std::move(opts.error());
  const msgpack::object* m = *opts;
  if (m == nullptr)
    return make_llmos_error(error_code::bad_params, "gelu: pass values=1,2,3 or data+shape");
  tensor_bytes t;
  if (const auto* values = map_get(*m, "values")) {
    // A lone number is a one-element tensor ("values=1" in the REPL is not a list).
    const bool scalar = values->type == msgpack::type::POSITIVE_INTEGER ||
                        values->type == msgpack::type::NEGATIVE_INTEGER ||
                        values->type == msgpack::type::FLOAT32 ||
                        values->type == msgpack::type::FLOAT64;
    if (!scalar && values->type != msgpack::type::ARRAY)
      return make_llmos_error(error_code::bad_params,
                              "gelu: 'values' must be a number or an array of numbers, got " +
                                  type_name(*values));
    const msgpack::object* items = scalar ? values : values->via.array.ptr;
    const uint32_t count = scalar ? 1 : values->via.array.size;
    t.shape = {static_cast<int64_t>(count)};
    t.data.resize(count * sizeof(float));
    for (uint32_t i = 0; i < count; ++i) {
      float f = 0;
      try {
        f = items[i].as<float>();
      } catch (const msgpack::type_error&) {
        return make_llmos_error(error_code::bad_params, "gelu: values[" + std::to_string(i) +
                                                            "] is a " + type_name(items[i]) +
                                                            ", not a number");
      }
      std::memcpy(t.data.data() + i * sizeof(float), &f, sizeof(float));
    }
    return t;
  }
  const auto* data = map_get(*m, "data");
  const auto* shape = map_get(*m, "shape");
  if (data == nullptr || data->type != msgpack::type::BIN || shape == nullptr)
    return make_llmos_error(error_code::bad_params,
                            "gelu: pass 'values' (array) or 'data' (bin) with 'shape' (array)");
  try {
    t.shape = shape->as<std::vector<int64_t>>();
  } catch (const msgpack::type_error&) {
    return make_llmos_error(error_code::bad_params, "gelu: 'shape' must be an array of integers");
  }
  t.data.assign(data->via.bin.ptr, data->via.bin.size);
  return t;
}

/// A tensor in its msgpack form, plus its numbers as a float list when it is small, so that a
/// REPL user can read a result (`data` stays the exact bytes).
std::string tensor_reply(const tensor_bytes& x) {
  const std::size_t n = x.data.size() / sizeof(float);
  const bool small = x.dtype == "f32" && n <= 64;
  msgpack::sbuffer buf;
  packer pk{buf};
  wire::pack_with(pk, x, small ? 1 : 0, [&](packer& out) {
    if (!small)
      return;
    out.pack("values");
    out.pack_array(static_cast<uint32_t>(n));
    for (std::size_t i = 0; i < n; ++i) {
      float f;
      std::memcpy(&f, x.data.data() + i * sizeof(float), sizeof(float));
      out.pack(f);
    }
  });
  return std::string{buf.data(), buf.size()};
}

void add_device_methods(method_table& t) {
  t.add("device",
        {"info", false, "send DEVICE info", "what the device is and its counters", [](rpc_call& c) {
           forward<device_info>(c, caf::actor_cast<device_actor>(c.target), call_timeout,
                                info_atom::value);
         }});
  t.add("device", {"gelu", false, "send DEVICE gelu values=1,2,3",
                   "GELU of a float32 tensor on the device", [](rpc_call& c) {
                     auto tensor = tensor_param(*c.params);
                     if (!tensor)
                       return c.reply(std::move(tensor.error()));
                     auto reply = c.reply;
                     c.self
                         ->request(caf::actor_cast<device_actor>(c.target), call_timeout,
                                   gelu_atom::value, std::move(*tensor))
                         .then([reply](tensor_bytes& out) { reply(tensor_reply(out)); },
                               [reply](caf::error& err) { reply(std::move(err)); });
                   }});
}

} // namespace

method_table builtin_methods() {
  method_table t;
  add_node_methods(t);
  add_device_methods(t);
  add_dataset_methods(t);
  add_model_methods(t);
  add_serving_methods(t);
  add_scheduler_methods(t);
  add_feedback_methods(t);
  return t;
}

} // namespace llmos
