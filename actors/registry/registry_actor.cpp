#include "registry/registry_actor.hpp"

#include <filesystem>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/state_dir.hpp"
#include "llmos/runtime/worker_threads.hpp"
#include "model/export/export.hpp"
#include "model/export/llama_package.hpp"
#include "registry/core/registry_names.hpp"
#include "registry/core/registry_store.hpp"

namespace llmos {
namespace {

struct registry_state {
  std::shared_ptr<registry::registry_store> store;
  std::vector<caf::actor> watchers;
  static inline const char* name = "llmos.registry";
};

using self_ptr = registry_actor::stateful_pointer<registry_state>;

caf::expected<nlohmann::json> json_object(const std::string& text, const std::string& field) {
  auto j = nlohmann::json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_llmos_error(error_code::bad_params,
                            "publish: " + field + " must be a JSON object, got: " + text);
  return j;
}

model_version to_message(const registry::registry_store& store, const registry::version_meta& m) {
  model_version v;
  v.name = m.name;
  v.version = m.version;
  v.created = m.created;
  v.metrics = m.metrics.dump();
  v.lineage = m.lineage.dump();
  v.weights_bytes = m.weights_bytes;
  if (auto aliases = store.aliases(m.name))
    for (auto& [alias, version] : *aliases)
      if (version == m.version)
        v.aliases.push_back(alias);
  return v;
}

caf::expected<model_version> describe_version(const registry::registry_store& store,
                                              const std::string& name, uint32_t version) {
  auto m = store.meta(name, version);
  if (!m)
    return std::move(m.error());
  return to_message(store, *m);
}

void tell_watchers(self_ptr self, const alias_event& ev) {
  for (auto& w : self->state.watchers)
    caf::anon_send(w, alias_atom::value, ev);
}

caf::result<model_version> on_publish(self_ptr self, publish_request& req) {
  auto metrics = json_object(req.metrics, "metrics");
  if (!metrics)
    return std::move(metrics.error());
  auto lineage = json_object(req.lineage, "lineage");
  if (!lineage)
    return std::move(lineage.error());
  registry::version_files files{std::move(req.package.weights), std::move(req.package.tokenizer),
                                std::move(req.package.spec)};
  auto m = self->state.store->publish(req.name, files, std::move(*metrics), std::move(*lineage));
  if (!m)
    return std::move(m.error());
  return to_message(*self->state.store, *m);
}

/// Every version of `name`, or of every model when it is "".
caf::result<std::vector<model_version>> on_list(self_ptr self, const std::string& name) {
  auto& store = *self->state.store;
  std::vector<std::string> names;
  if (name.empty())
    names = store.models();
  else
    names.push_back(name);
  std::vector<model_version> out;
  for (auto& n : names) {
    auto vs = store.versions(n);
    if (!vs)
      return std::move(vs.error());
    for (auto& m : *vs)
      out.push_back(to_message(store, m));
  }
  return out;
}

caf::result<model_version> on_resolve(self_ptr self, const std::string& name,
                                      const std::string& ref) {
  auto v = self->state.store->resolve(name, ref);
  if (!v)
    return std::move(v.error());
  auto m = describe_version(*self->state.store, name, *v);
  if (!m)
    return std::move(m.error());
  return std::move(*m);
}

caf::result<model_package> on_fetch(self_ptr self, const std::string& name, uint32_t version) {
  auto f = self->state.store->files(name, version);
  if (!f)
    return std::move(f.error());
  return model_package{std::move(f->weights), std::move(f->tokenizer), std::move(f->spec)};
}

caf::result<model_version> on_alias(self_ptr self, const std::string& name,
                                    const std::string& alias, uint32_t version) {
  if (auto done = self->state.store->set_alias(name, alias, version); !done)
    return std::move(done.error());
  tell_watchers(self, alias_event{name, alias, version});
  auto m = describe_version(*self->state.store, name, version);
  if (!m)
    return std::move(m.error());
  return std::move(*m);
}

/// Runs `format`'s exporter from `in` to `out`, on a worker (llmos/runtime/worker_threads.hpp)
/// (tracing and writing take seconds; the registry goes on meanwhile), then quits.
caf::actor spawn_export_worker(caf::actor_system& sys) {
  return spawn_worker(sys, [](caf::event_based_actor* w) {
    return caf::behavior{[w](export_atom, const std::string& format, const std::string& in,
                             const std::string& out,
                             const std::string& tokenizer) -> caf::result<std::string> {
      w->quit();
      caf::error err;
      if (format == "onnx")
        err = model::export_onnx(in, out);
      else if (format == "torchscript")
        err = model::export_torchscript(in, out);
      else
        err = model::export_llama(in, tokenizer, format, out);
      if (err)
        return err;
      return out;
    }};
  });
}

caf::result<std::string> on_export(self_ptr self, const std::string& name, uint32_t version,
                                   const std::string& format) {
  const auto& llama = model::llama_export_formats();
  const bool to_llama = std::find(llama.begin(), llama.end(), format) != llama.end();
  if (format != "torchscript" && format != "onnx" && !to_llama)
    return make_llmos_error(error_code::bad_params,
                            "export: format must be torchscript, onnx, gguf, gguf-f16, "
                            "gguf-q8_0 or llama2c, got '" +
                                format + "'");
  auto files = self->state.store->files(name, version);
  if (!files)
    return std::move(files.error());
  const auto dir = self->state.store->version_dir(name, version);
  const auto in = (dir / "weights.pt").string();
  const auto out = (dir / (to_llama           ? model::llama_export_file(format)
                           : format == "onnx" ? std::string{"model.onnx"}
                                              : std::string{"model.torchscript.pt"}))
                       .string();
  auto promise = self->make_response_promise<std::string>();
  self->request(spawn_export_worker(self->system()), std::chrono::minutes(10), export_atom::value,
                format, in, out, std::move(files->tokenizer))
      .then([promise](std::string& path) mutable { promise.deliver(std::move(path)); },
            [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
  return promise;
}

/// Reads and converts a pretrained file on a worker (seconds), answers its package
/// and lineage, then quits.
caf::actor spawn_import_worker(caf::actor_system& sys) {
  return spawn_worker(sys, [](caf::event_based_actor* w) {
    return caf::behavior{
        [w](import_atom, const import_request& r) -> caf::result<model_package, std::string> {
          w->quit();
          auto got = model::import_llama(r.format, r.path, r.tokenizer, r.name);
          if (!got)
            return std::move(got.error());
          got->lineage["note"] = r.note;
          return {model_package{std::move(got->weights), std::move(got->tokenizer),
                                std::move(got->spec)},
                  got->lineage.dump()};
        }};
  });
}

/// The registry publishes only a whole package: a refused file publishes nothing.
caf::result<model_version> on_import(self_ptr self, import_request& req) {
  if (auto ok = registry::check_model_name(req.name); !ok)
    return std::move(ok.error());
  auto promise = self->make_response_promise<model_version>();
  self->request(spawn_import_worker(self->system()), std::chrono::minutes(10), import_atom::value,
                req)
      .then(
          [self, promise, name = req.name](model_package& pkg, std::string& lineage) mutable {
            registry::version_files files{std::move(pkg.weights), std::move(pkg.tokenizer),
                                          std::move(pkg.spec)};
            auto m = self->state.store->publish(name, files, nlohmann::json::object(),
                                                nlohmann::json::parse(lineage));
            if (!m)
              promise.deliver(std::move(m.error()));
            else
              promise.deliver(to_message(*self->state.store, *m));
          },
          [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
  return promise;
}

registry_actor::behavior_type registry_behavior(self_ptr self,
                                                std::shared_ptr<registry::registry_store> store) {
  self->state.store = std::move(store);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& ws = self->state.watchers;
    ws.erase(std::remove_if(ws.begin(), ws.end(),
                            [&](const caf::actor& a) { return a.address() == dm.source; }),
             ws.end());
  });
  return {
      [self](publish_atom, publish_request& req) { return on_publish(self, req); },
      [self](list_atom, const std::string& name) { return on_list(self, name); },
      [self](resolve_atom, const std::string& name, const std::string& ref) {
        return on_resolve(self, name, ref);
      },
      [self](fetch_atom, const std::string& name, uint32_t version) {
        return on_fetch(self, name, version);
      },
      [self](alias_atom, const std::string& name, const std::string& alias, uint32_t version) {
        return on_alias(self, name, alias, version);
      },
      [self](delete_atom, const std::string& name, uint32_t version) -> caf::result<bool> {
        if (auto done = self->state.store->remove(name, version); !done)
          return std::move(done.error());
        return true;
      },
      [self](export_atom, const std::string& name, uint32_t version, const std::string& format) {
        return on_export(self, name, version, format);
      },
      [self](import_atom, import_request& req) { return on_import(self, req); },
      [self](watch_atom, caf::actor watcher) {
        self->monitor(watcher);
        self->state.watchers.push_back(std::move(watcher));
      },
  };
}

/// The keys a topology may give a registry actor.
const std::vector<config_field> registry_fields = {
    optional_key("root", config_type::path, "",
                 "folder of the store (created if missing); default .cache/state/registry"),
};

caf::expected<caf::actor> spawn_registry(spawn_context& ctx) {
  auto store = registry::registry_store::open(state_root(ctx.config["root"], "registry"));
  if (!store)
    return std::move(store.error());
  auto shared = std::make_shared<registry::registry_store>(std::move(*store));
  return caf::actor_cast<caf::actor>(ctx.system.spawn(registry_behavior, std::move(shared)));
}

} // namespace

actor_kind registry_kind() {
  return {"registry",
          "versioned model store on disk: weights, spec, tokenizer, metrics, lineage, aliases",
          registry_fields, spawn_registry};
}

} // namespace llmos
