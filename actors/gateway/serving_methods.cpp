// The serving kinds' gateway methods. Replies are JSON-shaped msgpack maps, so the REPL shows
// them like every other answer.
#include "gateway/serving_methods.hpp"

#include <cmath>
#include <cstdint>

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "gateway/call_options.hpp"
#include "gateway/rpc_params.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/model_publisher.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/serving.hpp"

namespace llmos {
namespace {

constexpr auto call_timeout = std::chrono::seconds(30);
constexpr auto long_timeout = std::chrono::minutes(5);

template <class T> T target(const rpc_call& c) {
  return caf::actor_cast<T>(c.target);
}

/// model publish: the model's weights and spec, the dataset's tokenizer and version, and the
/// lineage (data set version, hyper-parameters, parent version, who published) in one version.
void publish(rpc_call& c) {
  call_options o{*c.params, "publish"};
  o.check(o.has("dataset"), "publish: dataset=NAME is required (its tokenizer and version go "
                            "into the package)");
  if (o.refused(c))
    return;
  auto ctx = std::make_shared<rpc_call>(c);
  const auto dataset_name = o.text("dataset");
  const auto registry_name = o.text("registry", "registry");
  const auto name = o.text("name"), note = o.text("note");
  resolve_actor(c, dataset_name, [=](caf::actor ds_handle) {
    resolve_actor(*ctx, registry_name, [=](caf::actor reg_handle) {
      publish_plan plan;
      plan.model = target<model_actor>(*ctx);
      plan.dataset = caf::actor_cast<dataset_actor>(ds_handle);
      plan.registry = caf::actor_cast<registry_actor>(reg_handle);
      plan.dataset_name = dataset_name;
      plan.name = name;
      plan.note = note;
      auto reply = ctx->reply;
      publish_model(ctx->self, std::move(plan), [reply](caf::expected<model_version> v) {
        if (!v)
          return reply(std::move(v.error()));
        reply(wire::to_msgpack(*v));
      });
    });
  });
}

/// A version number: 3 or v3.
caf::expected<uint32_t> version_of(const std::string& method, const std::string& text) {
  auto digits = !text.empty() && text[0] == 'v' ? text.substr(1) : text;
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
      digits.size() > 9 || std::stoul(digits) == 0)
    return make_llmos_error(error_code::bad_params,
                            method + ": version must be a number like 3 or v3, got '" + text + "'");
  return static_cast<uint32_t>(std::stoul(digits));
}

/// registry alias model=M alias=A version=REF: REF is a number, or "latest" / another alias,
/// resolved first.
void alias_method(rpc_call& c) {
  call_options o{*c.params, "alias"};
  o.require({"model", "alias", "version"});
  if (o.refused(c))
    return;
  auto reg = target<registry_actor>(c);
  const auto m = o.text("model"), a = o.text("alias"), ref = o.text("version");
  if (auto v = version_of("alias", ref))
    return forward<model_version>(c, reg, long_timeout, alias_atom::value, m, a, *v);
  auto reply = c.reply;
  auto ctx = std::make_shared<rpc_call>(c);
  c.self->request(reg, call_timeout, resolve_atom::value, m, ref)
      .then(
          [=](model_version& v) {
            forward<model_version>(*ctx, reg, long_timeout, alias_atom::value, m, a, v.version);
          },
          [=](caf::error& err) { reply(std::move(err)); });
}

void versions_method(rpc_call& c) {
  call_options o{*c.params, "versions"};
  if (o.refused(c))
    return;
  forward<std::vector<model_version>>(c, target<registry_actor>(c), call_timeout, list_atom::value,
                                      o.text("model"));
}

/// The version of a method on one version (model=M version=N, both required); 0 once `o` has
/// refused.
uint32_t one_version(call_options& o) {
  o.require({"model", "version"});
  auto v = version_of(o.method(), o.text("version"));
  if (!v) {
    o.fail(std::move(v.error()));
    return 0;
  }
  return *v;
}

void delete_method(rpc_call& c) {
  call_options o{*c.params, "delete"};
  const auto version = one_version(o);
  if (o.refused(c))
    return;
  // The registry answers true once the version is gone: the reply is {"deleted": true}.
  forward_as_field<bool>(c, "deleted", target<registry_actor>(c), call_timeout, delete_atom::value,
                         o.text("model"), version);
}

void export_method(rpc_call& c) {
  call_options o{*c.params, "export"};
  const auto version = one_version(o);
  if (o.refused(c))
    return;
  forward_as_field(c, "path", target<registry_actor>(c), long_timeout, export_atom::value,
                   o.text("model"), version, o.text("format", "torchscript"));
}

/// registry import: pretrained weights from a file on the registry's node, published as a new
/// version with the source file and its sha256 in the lineage.
void import_method(rpc_call& c) {
  call_options o{*c.params, "import"};
  o.require({"model", "format", "path"});
  if (o.refused(c))
    return;
  import_request req{o.text("model"), o.text("format"), o.text("path"), o.text("tokenizer"),
                     o.text("note")};
  // Reading a large file takes a while: the long timeout, not the call one.
  forward<model_version>(c, target<registry_actor>(c), long_timeout, import_atom::value,
                         std::move(req));
}

/// server generate: a completion of `text` through the server's tokenizer and replicas (the
/// path /v1/completions takes), answered as its text.
void server_generate(rpc_call& c) {
  call_options o{*c.params, "generate"};
  complete_request req;
  req.prompt = o.text("text");
  req.max_tokens = static_cast<uint32_t>(o.whole("max_tokens", 32, 1u << 20));
  req.top_k = static_cast<int64_t>(o.whole("top_k", 0, 1u << 30));
  req.seed = o.whole("seed", 1);
  req.temperature = o.real("temperature", 1.0);
  req.top_p = o.real("top_p", 1.0);
  req.priority = static_cast<int32_t>(o.integer("priority", 0, -1000000, 1000000));
  // 0: the server numbers it
  req.request = static_cast<uint64_t>(o.integer("id", 0, 0, int64_t{1} << 62));
  if (o.has("stop"))
    req.stop.push_back(o.text("stop"));
  req.model = o.text("model"); // one of the server's adapters, or its model
  if (o.refused(c))
    return;
  forward<complete_reply>(c, target<server_actor>(c), long_timeout, complete_atom::value,
                          std::move(req));
}

void resolve_method(rpc_call& c) {
  call_options o{*c.params, "resolve"};
  o.require({"model", "ref"});
  if (o.refused(c))
    return;
  forward<model_version>(c, target<registry_actor>(c), long_timeout, resolve_atom::value,
                         o.text("model"), o.text("ref"));
}

void status_method(rpc_call& c) {
  forward<server_status>(c, target<server_actor>(c), long_timeout, status_atom::value);
}

void deploy_method(rpc_call& c) {
  call_options o{*c.params, "deploy"};
  if (o.refused(c))
    return;
  forward<server_status>(c, target<server_actor>(c), long_timeout, deploy_atom::value,
                         o.text("version", "production"));
}

void canary_method(rpc_call& c) {
  call_options o{*c.params, "canary"};
  const auto share = o.real("share", 0.0);
  if (o.refused(c))
    return;
  forward<server_status>(c, target<server_actor>(c), long_timeout, canary_atom::value,
                         o.text("version"), share);
}

void unload_method(rpc_call& c) {
  forward<server_status>(c, target<server_actor>(c), long_timeout, unload_atom::value);
}

void predict_method(rpc_call& c) {
  call_options o{*c.params, "predict"};
  o.check(o.has("text"), "predict: text=\"...\" is required");
  predict_request req;
  req.texts.push_back(o.text("text"));
  req.priority = o.whole32("priority", 1);
  if (o.refused(c))
    return;
  forward<predict_reply>(c, target<server_actor>(c), call_timeout, predict_atom::value, req);
}

void sequences_method(rpc_call& c) {
  forward<std::vector<sequence_row>>(c, target<server_actor>(c), call_timeout,
                                     sequences_atom::value);
}

void cancel_method(rpc_call& c) {
  call_options o{*c.params, "cancel"};
  const auto id = o.integer("id", -1, 0, INT64_MAX);
  o.check(id >= 0, "cancel: id=N is required");
  if (o.refused(c))
    return;
  forward_as_field<bool>(c, "cancelled", target<server_actor>(c), call_timeout, cancel_atom::value,
                         static_cast<uint64_t>(id));
}

void priority_method(rpc_call& c) {
  call_options o{*c.params, "priority"};
  const auto id = o.integer("id", -1, 0, INT64_MAX);
  const auto value = o.integer("value", 0, -1000000, 1000000);
  o.check(id >= 0 && o.has("value"), "priority: id=N and value=P are required");
  if (o.refused(c))
    return;
  forward_as_field<bool>(c, "changed", target<server_actor>(c), call_timeout, priority_atom::value,
                         static_cast<uint64_t>(id), static_cast<int32_t>(value));
}

void add_registry_methods(method_table& t) {
  t.add("model", {"publish", true,
                  "send MODEL publish dataset=NAME [registry=registry] [name=MODEL] [note=TEXT]",
                  "store the model as a new registry version (weights, spec, tokenizer, metrics, "
                  "lineage)",
                  publish});
  t.add("registry", {"versions", false, "send REGISTRY versions [model=MODEL]",
                     "every version (of one model or all), aliases included", versions_method});
  t.add("registry", {"resolve", false, "send REGISTRY resolve model=MODEL ref=REF",
                     "the version REF (3, v3, latest or an alias) names", resolve_method});
  t.add("registry", {"alias", true, "send REGISTRY alias model=MODEL alias=ALIAS version=REF",
                     "point an alias (production, canary, ...) at a version (3, latest, or "
                     "another alias); servers following it switch without dropping requests",
                     alias_method});
  t.add("registry", {"delete", true, "send REGISTRY delete model=MODEL version=N",
                     "delete a version no alias points at", delete_method});
  t.add("registry",
        {"export", true,
         "send REGISTRY export model=MODEL version=N "
         "[format=torchscript|onnx|gguf|gguf-f16|gguf-q8_0|llama2c]",
         "write a version as TorchScript (every architecture), ONNX (bag, cnn), GGUF or a "
         "llama2.c checkpoint (llama) into its folder; answers the path",
         export_method});
  t.add("registry",
        {"import", true,
         "send REGISTRY import model=NAME format=llama2c|gguf|safetensors|llmos path=FILE "
         "[tokenizer=FILE] [note=TEXT]",
         "publish pretrained Llama weights (a llama2.c checkpoint, a GGUF file, a Hugging Face "
         "safetensors folder, or a checkpoint llmos saved, on the registry's node) as a new "
         "version; lineage names the file and its sha256",
         import_method});
}

void add_server_methods(method_table& t) {
  t.add("server",
        {"status", false, "send SERVER status",
         "deployed version, replicas, queue, served, p50/p99, mean batch", status_method});
  t.add("server", {"deploy", true, "send SERVER deploy version=REF",
                   "load another version (3, v3, latest, or an alias to follow)", deploy_method});
  t.add("server",
        {"canary", true, "send SERVER canary version=REF share=0.2 (share=0 ends it)",
         "run a version beside the deployed one on a share of the traffic", canary_method});
  t.add("server", {"unload", true, "send SERVER unload", "drop every replica", unload_method});
  t.add("server", {"predict", false, "send SERVER predict text=\"...\" [priority=1]",
                   "classify one text through the server's batcher", predict_method});
  t.add("server", {"generate", false,
                   "send SERVER generate text=\"...\" [max_tokens=32] [temperature=1] [top_k=0] "
                   "[top_p=1] [seed=1] [priority=0] [stop=TEXT] [id=N] [model=ADAPTER]",
                   "complete a text with the served language model (temperature=0: greedy; id "
                   "numbers it for cancel and priority)",
                   server_generate});
  t.add("server", {"sequences", false, "send SERVER sequences",
                   "the generations on the server's replicas: id, state, priority, tokens, KV "
                   "blocks",
                   sequences_method});
  t.add("server",
        {"cancel", true, "send SERVER cancel id=N",
         "end generation N now: its request is answered with the text so far", cancel_method});
  t.add("server",
        {"priority", true, "send SERVER priority id=N value=P",
         "reprioritise generation N (higher runs first and preempts lower)", priority_method});
}

} // namespace

void add_serving_methods(method_table& t) {
  add_registry_methods(t);
  add_server_methods(t);
  t.add("http", {"alerts", false, "send HTTP alerts",
                 "alert rules (inactive, pending, firing) and recent events",
                 [](rpc_call& c) { forward_json(c, c.target, call_timeout, alerts_atom::value); }});
}

} // namespace llmos
