// The model kind's gateway methods. Datasets are named like every other actor and resolved
// through the directory, so `send spam-bag train dataset=spam` works from any node's gateway.
#include "gateway/model_methods.hpp"

#include <cstdint>

#include <caf/event_based_actor.hpp>

#include "gateway/call_options.hpp"
#include "gateway/rpc_params.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/node_manager.hpp"

namespace llmos {
namespace {

using namespace std::chrono_literals;

constexpr auto call_timeout = std::chrono::seconds(30);
constexpr auto long_timeout = std::chrono::minutes(12 * 60); // a training run ends when it ends

model_actor target_of(const rpc_call& c) {
  return caf::actor_cast<model_actor>(c.target);
}

void train(rpc_call& c) {
  call_options o{*c.params, "train"};
  o.check(o.has("dataset"),
          "train: dataset=NAME is required (the actor that streams the training data)");
  if (o.refused(c))
    return;
  train_request req;
  req.fine_tune = o.text("fine_tune");
  req.checkpoint = o.text("checkpoint");
  req.resume = o.text("resume", "false") == "true";
  // Every other key overrides a spec field; the model refuses unknown ones by name.
  for (auto& [k, v] : o.all())
    if (k != "dataset" && k != "fine_tune" && k != "checkpoint" && k != "resume")
      req.overrides[k] = v;
  auto ctx = std::make_shared<rpc_call>(c);
  resolve_actor(c, o.text("dataset"), [ctx, req](caf::actor ds) mutable {
    req.dataset = ds;
    auto sink = spawn_progress_sink(*ctx);
    req.subscriber = sink;
    forward_then_stop<train_report>(*ctx, sink, packed_reply, target_of(*ctx), long_timeout,
                                    train_atom::value, req);
  });
}

void evaluate(rpc_call& c) {
  call_options o{*c.params, "evaluate"};
  if (o.refused(c))
    return;
  auto ctx = std::make_shared<rpc_call>(c);
  auto split = o.text("split", "validation");
  resolve_actor(c, o.text("dataset"), [ctx, split](caf::actor ds) {
    forward_json(*ctx, target_of(*ctx), std::chrono::minutes(30), evaluate_atom::value, ds, split);
  });
}

/// Classifies n records of a dataset split (the dataset packs them as the model expects).
void infer(rpc_call& c) {
  call_options o{*c.params, "infer"};
  stream_request req;
  req.batch_size = static_cast<uint32_t>(std::max<uint64_t>(o.whole("n", 8, 1024), 1));
  if (o.refused(c))
    return;
  req.split = o.text("split", "validation");
  req.credits = 0;
  auto ctx = std::make_shared<rpc_call>(c);
  resolve_actor(c, o.text("dataset"), [ctx, req](caf::actor ds) {
    auto* self = ctx->self;
    auto reply = ctx->reply;
    auto dataset = caf::actor_cast<dataset_actor>(ds);
    self->request(dataset, call_timeout, open_stream_atom::value, req)
        .then(
            [=](uint64_t id) {
              self->request(dataset, call_timeout, next_batch_atom::value, id)
                  .then(
                      [=](data_batch& b) {
                        self->send(dataset, close_stream_atom::value, id);
                        self->request(target_of(*ctx), call_timeout, infer_atom::value, b.inputs)
                            .then(
                                [=](std::vector<prediction_item>& ps) {
                                  msgpack::sbuffer buf;
                                  packer pk{buf};
                                  pk.pack_array(static_cast<uint32_t>(ps.size()));
                                  for (std::size_t i = 0; i < ps.size(); ++i) {
                                    pk.pack_map(4);
                                    pk.pack("id").pack(b.ids[i]);
                                    pk.pack("label").pack(b.labels[i]);
                                    pk.pack("predicted").pack(ps[i].label);
                                    pk.pack("confidence").pack(ps[i].confidence);
                                  }
                                  reply(std::string{buf.data(), buf.size()});
                                },
                                [=](caf::error& err) { reply(std::move(err)); });
                      },
                      [=](caf::error& err) { reply(std::move(err)); });
            },
            [=](caf::error& err) { reply(std::move(err)); });
  });
}

/// The prompt of a generate call: `prompt` as token ids (an array, a comma list or one number),
/// or `text` as UTF-8 bytes for byte-tokenised models (ids 0-255 are the bytes).
caf::expected<std::vector<int32_t>> prompt_of(const msgpack::object& opts) {
  std::vector<int32_t> ids;
  auto bad = [](const std::string& what) {
    return make_llmos_error(error_code::bad_params, "generate: " + what);
  };
  if (const auto* text = map_get(opts, "text")) {
    if (text->type != msgpack::type::STR)
      return bad("text must be a string, got " + type_name(*text));
    for (unsigned char ch : text->as<std::string>())
      ids.push_back(ch);
    return ids;
  }
  const auto* prompt = map_get(opts, "prompt");
  if (prompt == nullptr)
    return ids; // a language model with a BOS token can start from nothing
  auto one = [&](const msgpack::object& o) -> caf::error {
    if (o.type != msgpack::type::POSITIVE_INTEGER)
      return bad("prompt token ids are non-negative integers, got " + type_name(o));
    // Checked here: as<uint32_t>() throws on a larger id, out of the dispatcher.
    if (o.via.u64 > static_cast<uint64_t>(INT32_MAX))
      return bad("prompt token id " + std::to_string(o.via.u64) + " is out of range");
    ids.push_back(static_cast<int32_t>(o.via.u64));
    return {};
  };
  if (prompt->type == msgpack::type::ARRAY) {
    for (uint32_t i = 0; i < prompt->via.array.size; ++i)
      if (auto err = one(prompt->via.array.ptr[i]))
        return err;
  } else if (auto err = one(*prompt)) {
    return err;
  }
  return ids;
}

/// Token ids in, token ids out (and the text, for a `text` prompt); each token also arrives as
/// a "token" notification as soon as it is made.
/// A number option of generate: an integer or a float; `fallback` when absent.
caf::expected<double> number_option(const msgpack::object& opts, const char* key, double fallback) {
  const auto* v = map_get(opts, key);
  if (v == nullptr)
    return fallback;
  switch (v->type) {
  case msgpack::type::POSITIVE_INTEGER:
    return static_cast<double>(v->as<uint64_t>());
  case msgpack::type::FLOAT32:
  case msgpack::type::FLOAT64:
    return v->as<double>();
  default:
    return make_llmos_error(error_code::bad_params, std::string{"generate: "} + key +
                                                        " must be a number, got " + type_name(*v));
  }
}

/// max_tokens, temperature, top_k, top_p, seed and adapter into `req`.
caf::error read_sampling(const msgpack::object& opts, generate_request& req) {
  auto max_tokens = number_option(opts, "max_tokens", 32);
  auto temperature = number_option(opts, "temperature", 1.0);
  auto top_k = number_option(opts, "top_k", 0);
  auto top_p = number_option(opts, "top_p", 1.0);
  auto seed = number_option(opts, "seed", 1);
  for (auto* x : {&max_tokens, &temperature, &top_k, &top_p, &seed})
    if (!*x)
      return std::move(x->error());
  req.max_tokens = static_cast<uint32_t>(std::clamp(*max_tokens, 0.0, 4096.0));
  req.temperature = *temperature;
  req.top_k = static_cast<int64_t>(*top_k);
  req.top_p = *top_p;
  req.seed = static_cast<uint64_t>(*seed);
  if (const auto* a = map_get(opts, "adapter")) {
    if (a->type != msgpack::type::STR)
      return make_llmos_error(error_code::bad_params,
                              "generate: adapter must be a name, got " + type_name(*a));
    req.adapter = a->as<std::string>();
  }
  return {};
}

/// Passes each token on to the caller as a `token` notification: [id] or, for a text prompt,
/// [id, "its byte"].
caf::actor spawn_token_sink(rpc_call& c, bool as_text) {
  auto notify = c.notify;
  return c.self->spawn([notify, as_text](caf::event_based_actor*) -> caf::behavior {
    return {[=](token_atom, uint64_t, int32_t token) {
      if (!notify)
        return;
      msgpack::sbuffer buf;
      packer pk{buf};
      pk.pack_array(as_text ? 2 : 1);
      pk.pack(token);
      if (as_text)
        pk.pack(std::string(1, static_cast<char>(token & 0xff)));
      notify("token", std::string{buf.data(), buf.size()});
    }};
  });
}

/// {tokens} or, for a text prompt, {token_count, text}.
std::string pack_generated(const std::vector<int32_t>& tokens, bool as_text) {
  msgpack::sbuffer buf;
  packer pk{buf};
  pk.pack_map(as_text ? 2 : 1);
  if (!as_text) {
    pk.pack("tokens").pack(tokens);
    return {buf.data(), buf.size()};
  }
  pk.pack("token_count").pack(tokens.size());
  std::string text;
  for (auto t : tokens)
    if (t >= 0 && t < 256)
      text += static_cast<char>(t);
  pk.pack("text").pack(text);
  return {buf.data(), buf.size()};
}

void generate(rpc_call& c) {
  auto object = param_object(*c.params, 2, "generate");
  if (!object)
    return c.reply(std::move(object.error()));
  static const msgpack::object empty_map = [] {
    msgpack::object o;
    o.type = msgpack::type::MAP;
    o.via.map.size = 0;
    o.via.map.ptr = nullptr;
    return o;
  }();
  const msgpack::object& opts = *object ? **object : empty_map;
  auto prompt = prompt_of(opts);
  if (!prompt)
    return c.reply(std::move(prompt.error()));
  generate_request req;
  req.prompt = std::move(*prompt);
  if (auto err = read_sampling(opts, req))
    return c.reply(std::move(err));
  const bool as_text = map_get(opts, "text") != nullptr;
  auto sink = spawn_token_sink(c, as_text);
  req.subscriber = sink;
  auto pack = [as_text](const std::vector<int32_t>& tokens) {
    return pack_generated(tokens, as_text);
  };
  forward_then_stop<std::vector<int32_t>>(c, sink, pack, target_of(c), std::chrono::minutes(10),
                                          generate_atom::value, req);
}

void reply_info(rpc_call& c, auto... msg) {
  forward<model_info>(c, target_of(c), std::chrono::minutes(5), msg...);
}

/// save and load: path=FILE, required.
void with_path(rpc_call& c, const std::string& method,
               std::function<void(rpc_call&, const std::string&)> then) {
  call_options o{*c.params, method};
  const auto path = o.text("path");
  o.check(!path.empty(), method + ": path=FILE is required");
  if (!o.refused(c))
    then(c, path);
}

void save_method(rpc_call& c) {
  with_path(c, "save", [](rpc_call& c, const std::string& path) {
    forward_as_field(c, "path", target_of(c), std::chrono::minutes(5), save_atom::value, path);
  });
}

void load_method(rpc_call& c) {
  with_path(c, "load",
            [](rpc_call& c, const std::string& path) { reply_info(c, load_atom::value, path); });
}

void adapter_method(rpc_call& c) {
  call_options o{*c.params, "adapter"};
  const auto name = o.text("name"), path = o.text("path");
  o.check(!name.empty() && !path.empty(), "adapter: name=NAME and path=FILE are required");
  if (o.refused(c))
    return;
  reply_info(c, adapter_atom::value, name, path);
}

void join_method(rpc_call& c) {
  call_options o{*c.params, "join"};
  const auto rank = o.whole32("rank", 0);
  const auto world = o.whole("world", 1);
  const auto port = o.whole("port", 0);
  o.check(port <= 65535 && world <= 4096, "join: port must be below 65536 and world at most 4096");
  if (o.refused(c))
    return;
  forward<uint16_t>(c, target_of(c), call_timeout, dp_join_atom::value, rank,
                    static_cast<uint32_t>(world), o.text("host", "127.0.0.1"),
                    static_cast<uint16_t>(port), o.text("bind"), o.text("backend", "auto"));
}

} // namespace

void add_model_methods(method_table& t) {
  t.add("model", {"train", true,
                  "send MODEL train dataset=NAME [fine_tune=head|lora] [checkpoint=PATH] "
                  "[resume=true] [SPEC_FIELD=VALUE...]",
                  "train or fine-tune from a dataset actor (progress as notifications)", train});
  t.add("model", {"evaluate", false, "send MODEL evaluate dataset=NAME [split=validation]",
                  "accuracy, macro-F1 and confusion matrix, or perplexity", evaluate});
  t.add("model", {"infer", false, "send MODEL infer dataset=NAME [split=validation] [n=8]",
                  "classify n records of a dataset split", infer});
  t.add("model",
        {"generate", false,
         "send MODEL generate prompt=ID,ID,...|text=\"...\" [max_tokens=32] "
         "[temperature=1] [top_k=0] [top_p=1] [seed=1] [adapter=NAME]",
         "continue a prompt (tokens as notifications; text= for byte-level models)", generate});
  t.add("model", {"info", false, "send MODEL info", "architecture, step, parameters, labels",
                  [](rpc_call& c) { reply_info(c, info_atom::value); }});
  t.add("model", {"save", true, "send MODEL save path=FILE", "write a checkpoint", save_method});
  t.add("model", {"load", true, "send MODEL load path=FILE", "restore a checkpoint", load_method});
  t.add("model", {"adapter", true, "send MODEL adapter name=NAME path=FILE",
                  "serve a LoRA fine-tune's checkpoint as adapters over the loaded weights "
                  "(generate adapter=NAME)",
                  adapter_method});
  t.add("model",
        {"join", true, "send MODEL join rank=R world=W host=ADDR [port=P] [bind=ADDR]",
         "become a data-parallel replica (rank 0 answers the rendezvous port)", join_method});
  t.add("model", {"quantize", true, "send MODEL quantize", "int8 linear layers for inference",
                  [](rpc_call& c) { reply_info(c, quantize_atom::value); }});
}

} // namespace llmos
