#include "gateway/rpc_params.hpp"

#include <cmath>
#include <cstring>
#include <sstream>

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"

namespace llmos {
namespace {

/// The JSON value `text` holds, or `text` itself as a string when it is not JSON.
nlohmann::json json_or_text(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

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

std::string type_name(const msgpack::object& obj) {
  switch (obj.type) {
  case msgpack::type::NIL:
    return "nil";
  case msgpack::type::BOOLEAN:
    return "boolean";
  case msgpack::type::POSITIVE_INTEGER:
  case msgpack::type::NEGATIVE_INTEGER:
    return "integer";
  case msgpack::type::FLOAT32:
  case msgpack::type::FLOAT64:
    return "float";
  case msgpack::type::STR:
    return "string";
  case msgpack::type::BIN:
    return "binary";
  case msgpack::type::ARRAY:
    return "array";
  case msgpack::type::MAP:
    return "map";
  case msgpack::type::EXT:
    return "extension";
  }
  return "unknown";
}

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

const msgpack::object* map_get(const msgpack::object& map, const std::string& key) {
  if (map.type != msgpack::type::MAP)
    return nullptr;
  for (uint32_t k = 0; k < map.via.map.size; ++k) {
    const auto& kv = map.via.map.ptr[k];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view{kv.key.via.str.ptr, kv.key.via.str.size} == key)
      return &kv.val;
  }
  return nullptr;
}

void pack(packer& pk, const pong& x) {
  pk.pack_map(3);
  pk.pack("node").pack(x.node);
  pk.pack("pid").pack(x.pid);
  pk.pack("uptime_ms").pack(x.uptime_ms);
}

void pack(packer& pk, const node_status& x) {
  pk.pack_map(7);
  pk.pack("name").pack(x.name);
  pk.pack("host").pack(x.host);
  pk.pack("port").pack(x.port);
  pk.pack("rpc_port").pack(x.rpc_port);
  pk.pack("devices").pack(x.devices);
  pk.pack("state").pack(std::string{to_string(x.state)});
  pk.pack("since_ms").pack(x.since_ms);
}

void pack(packer& pk, const actor_entry& x) {
  pk.pack_map(4);
  pk.pack("name").pack(x.name);
  pk.pack("kind").pack(x.kind);
  pk.pack("node").pack(x.node);
  pk.pack("config").pack(x.config);
}

void pack(packer& pk, const device_info& x) {
  // Every field of device_info (messages/device.hpp), as HTTP's devices view shows them.
  pk.pack_map(12);
  pk.pack("name").pack(x.name);
  pk.pack("type").pack(x.type);
  pk.pack("backend").pack(x.backend);
  pk.pack("threads").pack(x.threads);
  pk.pack("cuda_index").pack(x.cuda_index);
  pk.pack("memory_bytes").pack(x.memory_bytes);
  pk.pack("memory_free_bytes").pack(x.memory_free_bytes);
  pk.pack("jobs_done").pack(x.jobs_done);
  pk.pack("elements_done").pack(x.elements_done);
  pk.pack("busy_seconds").pack(x.busy_seconds);
  pk.pack("queued").pack(x.queued);
  pk.pack("uptime_seconds").pack(x.uptime_seconds);
}

void pack(packer& pk, const tensor_bytes& x) {
  // Tensors go out as bin; small ones also as a float list so that a REPL user can read them.
  const std::size_t n = x.data.size() / sizeof(float);
  const bool small = n <= 64;
  pk.pack_map(small ? 3 : 2);
  pk.pack("shape").pack(x.shape);
  pk.pack("data");
  pk.pack_bin(static_cast<uint32_t>(x.data.size()));
  pk.pack_bin_body(x.data.data(), static_cast<uint32_t>(x.data.size()));
  if (small) {
    pk.pack("values");
    pk.pack_array(static_cast<uint32_t>(n));
    for (std::size_t i = 0; i < n; ++i) {
      float f;
      std::memcpy(&f, x.data.data() + i * sizeof(float), sizeof(float));
      pk.pack(f);
    }
  }
}

void pack(packer& pk, const dataset_stats& x) {
  pk.pack_map(10);
  pk.pack("dataset").pack(x.dataset);
  pk.pack("version").pack(x.version);
  pk.pack("records").pack(x.records);
  pk.pack("train").pack(x.train);
  pk.pack("validation").pack(x.validation);
  pk.pack("test").pack(x.test);
  pk.pack("augmented").pack(x.augmented);
  pk.pack("removed").pack(x.removed);
  pk.pack("labels").pack(x.labels);
  pk.pack("report"); // an object, not the text the statistics travel in
  pack_json(pk, json_or_text(x.report));
}

void pack(packer& pk, const data_record& x) {
  pk.pack_map(7);
  pk.pack("id").pack(x.id);
  pk.pack("split").pack(x.split);
  pk.pack("label").pack(x.label);
  pk.pack("label_source").pack(x.label_source);
  pk.pack("augmented").pack(x.augmented);
  pk.pack("text").pack(x.text);
  pk.pack("pixels").pack(static_cast<uint32_t>(x.image.size()));
}

void pack(packer& pk, const quarantine_item& x) {
  pk.pack_map(4);
  pk.pack("rule").pack(x.rule);
  pk.pack("reason").pack(x.reason);
  pk.pack("origin").pack(x.origin);
  pk.pack("text").pack(x.text.substr(0, 200));
}

void pack(packer& pk, const review_item& x) {
  pk.pack_map(5);
  pk.pack("id").pack(x.record_id);
  pk.pack("text").pack(x.text);
  pk.pack("split").pack(x.split);
  pk.pack("suggested").pack(x.suggested);
  pk.pack("confidence").pack(x.confidence);
}

void pack(packer& pk, const data_batch& x) {
  pk.pack_map(7);
  pk.pack("stream").pack(x.stream);
  pk.pack("seq").pack(x.seq);
  pk.pack("epoch").pack(x.epoch);
  pk.pack("ids").pack(x.ids);
  pk.pack("labels").pack(x.labels);
  pk.pack("last").pack(x.last);
  pk.pack("inputs");
  pk.pack_map(3);
  pk.pack("shape").pack(x.inputs.shape);
  pk.pack("dtype").pack(x.inputs.dtype);
  pk.pack("data");
  pk.pack_bin(static_cast<uint32_t>(x.inputs.data.size()));
  pk.pack_bin_body(x.inputs.data.data(), static_cast<uint32_t>(x.inputs.data.size()));
}

// Reads an unsigned option with a default; bad_params names it.
caf::expected<uint64_t> uint_option(const std::map<std::string, std::string>& opts,
                                    const std::string& method, const std::string& key,
                                    uint64_t fallback) {
  auto i = opts.find(key);
  if (i == opts.end())
    return fallback;
  char* end = nullptr;
  const auto v = std::strtoull(i->second.c_str(), &end, 10);
  if (i->second.empty() || *end != '\0' || i->second[0] == '-')
    return make_llmos_error(error_code::bad_params, method + ": option '" + key +
                                                        "' must be a whole number, got '" +
                                                        i->second + "'");
  return v;
}

caf::expected<double> real_option(const std::map<std::string, std::string>& opts,
                                  const std::string& method, const std::string& key,
                                  double fallback) {
  auto i = opts.find(key);
  if (i == opts.end())
    return fallback;
  char* end = nullptr;
  const double v = std::strtod(i->second.c_str(), &end);
  if (i->second.empty() || *end != '\0' || !std::isfinite(v))
    return make_llmos_error(error_code::bad_params, method + ": option '" + key +
                                                        "' must be a number, got '" + i->second +
                                                        "'");
  return v;
}

std::string opt(const std::map<std::string, std::string>& opts, const std::string& key,
                const std::string& fallback) {
  auto i = opts.find(key);
  return i == opts.end() ? fallback : i->second;
}

void pack(packer& pk, const train_report& r) {
  pk.pack_map(7);
  pk.pack("model").pack(r.model);
  pk.pack("steps").pack(r.steps);
  pk.pack("loss").pack(r.loss);
  // The last evaluation's headline numbers; per-class scores and the confusion matrix come from
  // the model's evaluate method (a 40-class matrix would drown a REPL listing).
  auto eval = nlohmann::json::parse(r.evaluation, nullptr, false);
  std::map<std::string, double> summary;
  if (eval.is_object()) {
    for (const char* key : {"loss", "perplexity"})
      if (eval.contains(key) && eval[key].is_number())
        summary[key] = eval[key].get<double>();
    if (auto m = eval.find("metrics"); m != eval.end() && m->is_object())
      for (const char* key : {"accuracy", "macro_f1"})
        if (m->contains(key) && (*m)[key].is_number())
          summary[key] = (*m)[key].get<double>();
  }
  pk.pack("evaluation").pack(summary);
  pk.pack("stopped_early").pack(r.stopped_early);
  pk.pack("seconds").pack(r.seconds);
  pk.pack("samples_per_second").pack(r.samples_per_second);
}

void pack(packer& pk, const model_info& i) {
  pk.pack_map(10);
  pk.pack("name").pack(i.name);
  pk.pack("architecture").pack(i.architecture);
  pk.pack("device").pack(i.device);
  pk.pack("step").pack(i.step);
  pk.pack("parameters").pack(i.parameters);
  pk.pack("quantized").pack(i.quantized);
  pk.pack("training").pack(i.training);
  pk.pack("labels").pack(i.labels);
  pk.pack("spec").pack(i.spec);
  pk.pack("adapters").pack(i.adapters);
}

void pack(packer& pk, const std::string& x) {
  pk.pack(x);
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
          pk.pack_map(5);
          pk.pack("task").pack(e.task);
          pk.pack("stage").pack(e.stage);
          pk.pack("done").pack(e.done);
          pk.pack("total").pack(e.total);
          pk.pack("message").pack(e.message);
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

void pack_json(packer& pk, const nlohmann::json& j) {
  switch (j.type()) {
  case nlohmann::json::value_t::object:
    pk.pack_map(static_cast<uint32_t>(j.size()));
    for (auto& [k, v] : j.items()) {
      pk.pack(k);
      pack_json(pk, v);
    }
    break;
  case nlohmann::json::value_t::array:
    pk.pack_array(static_cast<uint32_t>(j.size()));
    for (auto& v : j)
      pack_json(pk, v);
    break;
  case nlohmann::json::value_t::string:
    pk.pack(j.get<std::string>());
    break;
  case nlohmann::json::value_t::boolean:
    pk.pack(j.get<bool>());
    break;
  case nlohmann::json::value_t::number_integer:
    pk.pack(j.get<int64_t>());
    break;
  case nlohmann::json::value_t::number_unsigned:
    pk.pack(j.get<uint64_t>());
    break;
  case nlohmann::json::value_t::number_float:
    pk.pack(j.get<double>());
    break;
  default:
    pk.pack_nil();
  }
}

std::string packed_json_text(const std::string& text) {
  return packed(json_or_text(text));
}

std::string packed(const nlohmann::json& j) {
  msgpack::sbuffer buf;
  packer pk{buf};
  pack_json(pk, j);
  return std::string{buf.data(), buf.size()};
}

} // namespace llmos
