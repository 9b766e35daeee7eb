#include "gateway/rpc_params.hpp"

#include <sstream>

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"

namespace llmos {
namespace {

const msgpack::object* positional(const msgpack::object& params, std::size_t i) {
  if (params.type == msgpack::type::ARRAY)
    return i < params.via.array.size ? &params.via.array.ptr[i] : nullptr;
  if (params.type == msgpack::type::NIL)
    return nullptr;
  return i == 0 ? &params : nullptr;
}

caf::error bad(const std::string& method, std::size_t i, const std::string& what,
               const std::string& wanted, const msgpack::object* got) {
  return make_llmos_error(error_code::bad_params,
                          method + ": argument " + std::to_string(i + 1) + " (" + what +
                              ") must be " + wanted + ", got " +
                              (got == nullptr ? "nothing" : type_name(*got)));
}

caf::expected<std::string> scalar_text(const msgpack::object& v) {
  switch (v.type) {
  case msgpack::type::STR:
    return std::string{v.via.str.ptr, v.via.str.size};
  case msgpack::type::POSITIVE_INTEGER:
    return std::to_string(v.via.u64);
  case msgpack::type::NEGATIVE_INTEGER:
    return std::to_string(v.via.i64);
  case msgpack::type::BOOLEAN:
    return std::string{v.via.boolean ? "true" : "false"};
  case msgpack::type::FLOAT32:
  case msgpack::type::FLOAT64: {
    std::ostringstream os;
    os << v.via.f64;
    return os.str();
  }
  default:
    return make_llmos_error(error_code::bad_params, "a " + type_name(v) + " is not a scalar");
  }
}

} // namespace

std::size_t param_count(const msgpack::object& params) {
  if (params.type == msgpack::type::ARRAY)
    return params.via.array.size;
  return params.type == msgpack::type::NIL ? 0 : 1;
}

caf::expected<std::string> param_string(const msgpack::object& params, std::size_t i,
                                        const std::string& method, const std::string& what) {
  const auto* v = positional(params, i);
  if (v == nullptr || v->type != msgpack::type::STR)
    return bad(method, i, what, "a string", v);
  return std::string{v->via.str.ptr, v->via.str.size};
}

caf::expected<uint64_t> param_uint(const msgpack::object& params, std::size_t i,
                                   const std::string& method, const std::string& what) {
  const auto* v = positional(params, i);
  if (v == nullptr || v->type != msgpack::type::POSITIVE_INTEGER)
    return bad(method, i, what, "an unsigned integer", v);
  return v->via.u64;
}

caf::expected<const msgpack::object*> param_object(const msgpack::object& params, std::size_t i,
                                                   const std::string& method) {
  const auto* v = positional(params, i);
  if (v == nullptr || v->type == msgpack::type::NIL)
    return static_cast<const msgpack::object*>(nullptr);
  if (v->type != msgpack::type::MAP)
    return bad(method, i, "options", "a map", v);
  return v;
}

caf::expected<std::map<std::string, std::string>>
param_map(const msgpack::object& params, std::size_t i, const std::string& method) {
  auto obj = param_object(params, i, method);
  if (!obj)
    return std::move(obj.error());
  std::map<std::string, std::string> out;
  if (*obj == nullptr)
    return out;
  const auto& m = (*obj)->via.map;
  for (uint32_t k = 0; k < m.size; ++k) {
    const auto& key = m.ptr[k].key;
    if (key.type != msgpack::type::STR)
      return bad(method, i, "options", "a map with string keys", &key);
    std::string name{key.via.str.ptr, key.via.str.size};
    auto value = scalar_text(m.ptr[k].val);
    if (!value)
      return make_llmos_error(error_code::bad_params, method + ": option '" + name +
                                                          "' must be a scalar, got " +
                                                          type_name(m.ptr[k].val));
    out[name] = std::move(*value);
  }
  return out;
}

caf::actor spawn_progress_sink(rpc_call& c) {
  // Progress events become msgpack-RPC notifications on the caller's connection.
  auto notify = c.notify;
  return c.self->spawn([notify](caf::event_based_actor*) -> caf::behavior {
    return {
        [=](progress_atom, const progress_event& e) {
          if (!notify)
            return;
          msgpack::sbuffer buf;
          packer pk{buf};
          pk.pack_array(1);
          wire::pack(pk, e);
          notify("progress", std::string{buf.data(), buf.size()});
        },
    };
  });
}

void resolve_actor(rpc_call& c, const std::string& name, std::function<void(caf::actor)> then) {
  constexpr auto timeout = std::chrono::seconds(30);
  auto* self = c.self;
  auto reply = c.reply;
  self->request(c.manager, timeout, get_atom::value, directory_atom::value)
      .then(
          [=](directory_actor& dir) {
            self->request(dir, timeout, lookup_atom::value, name)
                .then([=](actor_entry& e) { then(e.handle); },
                      [=](caf::error& err) { reply(std::move(err)); });
          },
          [=](caf::error& err) { reply(std::move(err)); });
}

std::string packed_json_text(const std::string& text) {
  // An empty reply stays the empty string it was (a json_text field's "" reads as null).
  return packed(text.empty() ? nlohmann::json(text) : wire::json_or_text(text));
}

std::string packed(const nlohmann::json& j) {
  msgpack::sbuffer buf;
  packer pk{buf};
  wire::pack_json(pk, j);
  return std::string{buf.data(), buf.size()};
}

} // namespace llmos
