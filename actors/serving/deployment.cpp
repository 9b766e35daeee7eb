#include "serving/deployment.hpp"

#include <filesystem>
#include <fstream>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <unistd.h>

#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/find_actor.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/log.hpp"
#include "serving/replica_placement.hpp"
#include "serving/request_log.hpp"

namespace llmos::serving {
namespace {

using namespace std::chrono_literals;
constexpr auto call_timeout = std::chrono::seconds(30);
constexpr auto load_timeout = std::chrono::minutes(5);

/// Calls `then` with the registry handle, resolving the configured name through the directory
/// once; the server then watches the registry for alias moves.
void with_registry(server_self self, std::function<void(registry_actor)> then,
                   std::function<void(caf::error)> fail) {
  auto& st = self->state;
  auto watch = [self, then](registry_actor reg) {
    auto& st = self->state;
    st.registry = reg;
    if (!st.watching) {
      st.watching = true;
      self->monitor(reg); // a restarted registry knows no watchers: see rewatch_registry
      self->send(reg, watch_atom::value, caf::actor_cast<caf::actor>(self));
    }
    then(reg);
  };
  if (st.registry)
    return watch(st.registry);
  if (st.cfg.registry_handle)
    return watch(st.cfg.registry_handle);
  if (!st.cfg.manager)
    return fail(make_llmos_error(error_code::unavailable, "server '" + st.cfg.name +
                                                              "': no node manager to find '" +
                                                              st.cfg.registry + "'"));
  find_actor(
      self, st.cfg.manager, st.cfg.registry,
      [watch](caf::actor h) { watch(caf::actor_cast<registry_actor>(h)); }, fail, call_timeout);
}

/// Writes a package's weights (or spec: `suffix` ".yaml") where replicas can load them: the
/// local path.
caf::expected<std::string> write_local(server_state& st, const std::string& bytes,
                                       const char* suffix = ".pt") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("llmos-serve-" + st.cfg.name + "-" + std::to_string(::getpid()) + "-" +
                     std::to_string(++st.weight_files) + suffix);
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out)
    return make_llmos_error(error_code::io_failed,
                            "server '" + st.cfg.name + "': cannot write " + path.string());
  return path.string();
}

/// The package as a local deployment: weights on disk for the replicas to load, spec, tokenizer.
caf::expected<std::shared_ptr<deployed_version>> unpack(server_state& st, const model_package& pkg,
                                                        uint32_t version) {
  auto dep = std::make_shared<deployed_version>();
  dep->version = version;
  auto spec = model::parse_model_spec(pkg.spec, st.model + " v" + std::to_string(version));
  if (!spec)
    return std::move(spec.error());
  dep->spec = std::move(*spec);
  dep->language = model::is_language_model(dep->spec.architecture);
  dep->format.images = dep->spec.architecture == "cnn";
  dep->format.max_length = dep->spec.max_length;
  dep->format.image_size = dep->spec.image_size;
  dep->chat = detect_chat_style(dep->spec.chat_template);
  if (!dep->spec.chat_template.empty() && dep->chat.format == chat_format::plain)
    log_warning("server '" + st.cfg.name + "': " + st.model + " v" + std::to_string(version) +
                " carries a chat template of no family llmos renders (chatml, llama2, "
                "mistral-v7, llama3, phi3, zephyr, gemma); chat prompts join the contents "
                "by newlines");
  else if (!dep->spec.chat_template.empty())
    log_info("server '" + st.cfg.name + "': chat prompts of " + st.model + " v" +
             std::to_string(version) + " use its " + chat_format_name(dep->chat.format) +
             " template");
  if (!pkg.tokenizer.empty()) {
    auto tok = dataset::tokenizer::load(pkg.tokenizer);
    if (!tok)
      return std::move(tok.error());
    dep->tok = std::move(*tok);
    dep->format.pad_id = std::max(dep->tok->specials().pad, 0);
    dep->format.tokenizer = dep->tok.get();
  }
  auto path = write_local(st, pkg.weights);
  if (!path)
    return std::move(path.error());
  dep->weights_path = std::move(*path);
  // The model kind reads a spec file: the replicas are spawned by the node manager from it.
  auto spec_path = write_local(st, pkg.spec, ".yaml");
  if (!spec_path) {
    remove_files(*dep);
    return std::move(spec_path.error());
  }
  dep->spec_path = std::move(*spec_path);
  return dep;
}

/// Fetches the configured adapters from `at` on into `dep` (local copies), then `done`.
void fetch_adapters(server_self self, registry_actor reg, std::shared_ptr<deployed_version> dep,
                    std::size_t at, std::function<void(caf::error)> done) {
  auto& st = self->state;
  if (at == st.cfg.adapters.size())
    return done(caf::none);
  const auto& entry = st.cfg.adapters[at];
  const auto sep = entry.find('@');
  const auto name = entry.substr(0, sep);
  const auto ref = sep == std::string::npos ? std::string{"latest"} : entry.substr(sep + 1);
  auto fail = [self, name, done](caf::error& err) {
    done(make_llmos_error(error_code::bad_params, "server '" + self->state.cfg.name +
                                                      "': adapter '" + name +
                                                      "': " + describe(err)));
  };
  self->request(reg, call_timeout, resolve_atom::value, name, ref)
      .then(
          [self, reg, dep, at, done, name, fail](model_version& v) {
            self->request(reg, load_timeout, fetch_atom::value, name, v.version)
                .then(
                    [self, reg, dep, at, done, name, version = v.version](model_package& pkg) {
                      auto path = write_local(self->state, pkg.weights);
                      if (!path)
                        return done(path.error());
                      dep->adapters.push_back({name, version, std::move(*path)});
                      fetch_adapters(self, reg, dep, at + 1, done);
                    },
                    fail);
          },
          fail);
}

bool is_version_number(const std::string& ref) {
  auto digits = ref.size() > 1 && ref[0] == 'v' ? ref.substr(1) : ref;
  return !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
}

/// Whether `ref` names an alias the server follows (not a version number, not "latest").
bool is_alias(const std::string& ref) {
  return !is_version_number(ref) && ref != "latest";
}

/// Resolves `ref`, fetches and unpacks the package, loads it: as the deployment (share < 0)
/// or as a canary with that share.
void load_version(server_self self, const std::string& ref, double share,
                  std::function<void(caf::error)> done) {
  with_registry(
      self,
      [self, ref, share, done](registry_actor reg) {
        auto& st = self->state;
        self->request(reg, call_timeout, resolve_atom::value, st.model, ref)
            .then(
                [self, reg, ref, share, done](model_version& v) {
                  auto& st = self->state;
                  const bool canary = share >= 0;
                  if (!canary) {
                    if (is_alias(ref))
                      st.follows = ref;
                    else
                      st.follows.clear();
                    if (st.current && st.current->version == v.version)
                      return done(caf::none);
                  } else if (st.current && st.current->version == v.version) {
                    return done(make_llmos_error(error_code::bad_params,
                                                 "server '" + st.cfg.name + "': v" +
                                                     std::to_string(v.version) +
                                                     " is the deployed version, not a canary"));
                  }
                  self->request(reg, load_timeout, fetch_atom::value, st.model, v.version)
                      .then(
                          [self, reg, v, share, canary, done](model_package& pkg) {
                            auto dep = unpack(self->state, pkg, v.version);
                            if (!dep)
                              return done(dep.error());
                            const auto count = canary ? 1u : self->state.cfg.replicas;
                            fetch_adapters(
                                self, reg, *dep, 0,
                                [self, dep = *dep, count, share, done](const caf::error& err) {
                                  if (err) {
                                    remove_files(*dep);
                                    return done(err);
                                  }
                                  load_replicas(self, dep, count, share, done);
                                });
                          },
                          [done](caf::error& err) { done(err); });
                },
                [done](caf::error& err) { done(err); });
      },
      done);
}

} // namespace

void remove_files(const deployed_version& dep) {
  std::error_code ec;
  std::filesystem::remove(dep.weights_path, ec);
  if (!dep.spec_path.empty())
    std::filesystem::remove(dep.spec_path, ec);
  for (const auto& a : dep.adapters)
    std::filesystem::remove(a.path, ec);
}

void rewatch_registry(server_self self) {
  auto& st = self->state;
  st.registry = nullptr;
  st.watching = false;
  if (st.cfg.registry_handle)
    return; // a handle given by a test: nothing to find again
  with_registry(
      self,
      [self](registry_actor) {
        log_info("server '" + self->state.cfg.name + "': watching the registry again");
      },
      [self](caf::error) { self->delayed_send(self, 1s, watch_atom::value); });
}

void start(server_self self, const std::string& ref) {
  // An alias is followed from the start: set after the server started (its model published
  // later), it deploys when the registry says so, not at the next retry.
  if (!self->state.current && is_alias(ref))
    self->state.follows = ref;
  deploy(self, ref, [self, ref](caf::error err) {
    if (!err)
      return;
    auto& st = self->state;
    if (!st.retry_logged) {
      st.retry_logged = true;
      log_warning("server '" + st.cfg.name + "': cannot deploy " + st.model + " '" + ref +
                  "' yet (" + describe(err) + "); retrying every second");
    }
    if (!st.current)
      self->delayed_send(self, 1s, retry_atom::value, ref);
  });
}

void deploy(server_self self, const std::string& ref, std::function<void(caf::error)> done) {
  load_version(self, ref, -1.0, std::move(done));
}

void deploy_canary(server_self self, const std::string& ref, double share,
                   std::function<void(caf::error)> done) {
  load_version(self, ref, share, std::move(done));
}

void end_canary(server_state& st) {
  for (auto& [id, r] : st.replicas)
    if (r.canary && !r.draining) {
      r.draining = true;
      st.router.drain(id);
    }
  if (st.canary) {
    log_info("server '" + st.cfg.name + "': canary v" + std::to_string(st.canary->version) +
             " ended");
    remove_files(*st.canary);
  }
  st.canary.reset();
  st.canary_share = 0.0;
  retire_idle(st);
}

void unload(server_state& st) {
  for (auto& [id, r] : st.replicas) {
    stop_replica(r);
    st.router.remove(id);
  }
  st.replicas.clear();
  for (auto& [id, p] : st.requests)
    p.promise.deliver(
        make_llmos_error(error_code::unavailable, "model '" + st.model + "' was unloaded"));
  st.requests.clear();
  st.rows.clear();
  if (st.current)
    remove_files(*st.current);
  if (st.canary)
    remove_files(*st.canary);
  st.current.reset();
  st.canary.reset();
  st.canary_share = 0.0;
}

bool replica_lost(server_state& st, const caf::actor_addr& source) {
  for (auto i = st.replicas.begin(); i != st.replicas.end(); ++i) {
    if (i->second.model.address() != source)
      continue;
    // Its queued rows and its batch in flight fail: the caller may retry on another replica.
    std::vector<uint64_t> queued;
    while (i->second.batcher.size() > 0)
      for (auto id : i->second.batcher.take())
        queued.push_back(id);
    for (auto id : queued) {
      auto row = st.rows.find(id);
      if (row == st.rows.end())
        continue;
      auto req = st.requests.find(row->second.request);
      if (req != st.requests.end()) {
        req->second.promise.deliver(make_llmos_error(
            error_code::unavailable, "model '" + st.model + "': its replica went down"));
        st.requests.erase(req);
      }
      st.rows.erase(row);
    }
    st.router.remove(i->first);
    const bool canary = i->second.canary && !i->second.draining;
    const bool serving = !i->second.canary && !i->second.draining && i->second.dep == st.current;
    st.replicas.erase(i);
    if (canary) // its share would fail from now on: the canary ends with its replica
      end_canary(st);
    return serving;
  }
  return false;
}

void retire_idle(server_state& st) {
  for (auto i = st.replicas.begin(); i != st.replicas.end();) {
    auto& r = i->second;
    if (r.draining && r.in_flight == 0 && r.batcher.size() == 0 && st.router.idle(i->first)) {
      stop_replica(r);
      st.router.remove(i->first);
      i = st.replicas.erase(i);
    } else {
      ++i;
    }
  }
}

std::optional<std::size_t> pick_replica(server_state& st, uint32_t version) {
  if (!st.canary)
    return st.router.pick();
  bool want_canary = version == st.canary->version;
  if (version == 0) {
    st.canary_credit += st.canary_share;
    if (st.canary_credit >= 1.0) {
      st.canary_credit -= 1.0;
      want_canary = true;
    }
  }
  // The router's policy cannot be told which group to pick from: least outstanding within it.
  std::optional<std::size_t> best;
  for (auto id : st.router.active()) {
    auto r = st.replicas.find(id);
    if (r == st.replicas.end() || r->second.canary != want_canary)
      continue;
    if (!best || st.router.outstanding(id) < st.router.outstanding(*best))
      best = id;
  }
  return best;
}

void update_gauges(server_state& st) {
  std::size_t queued = 0, active = 0;
  for (auto& [id, r] : st.replicas) {
    queued += r.batcher.size();
    active += r.draining ? 0 : 1;
  }
  st.metrics->queued.Set(static_cast<double>(queued));
  st.metrics->replicas.Set(static_cast<double>(active));
}

void stop_all(server_state& st) {
  for (auto& [id, r] : st.replicas)
    stop_replica(r);
  if (st.current)
    remove_files(*st.current);
  if (st.canary)
    remove_files(*st.canary);
}

server_state::~server_state() {
  const auto gone = make_llmos_error(error_code::unavailable,
                                     "server '" + cfg.name + "' stopped before answering");
  for (auto& [id, p] : requests)
    if (p.promise.pending())
      p.promise.deliver(gone);
  for (auto& [id, c] : completions)
    if (c.promise.pending())
      c.promise.deliver(gone);
  stop_all(*this);
}

} // namespace llmos::serving
