#include "serving/replica_placement.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/log.hpp"
#include "serving/deployment.hpp"

namespace llmos::serving {
namespace {

constexpr auto call_timeout = std::chrono::seconds(30);
constexpr auto load_timeout = std::chrono::minutes(5);

/// Loads `dep`'s adapters from `at` on into a freshly loaded replica, then `done`.
void load_adapters(server_self self, model_actor model, std::shared_ptr<deployed_version> dep,
                   std::size_t at, std::function<void(caf::error)> done) {
  if (at == dep->adapters.size())
    return done(caf::none);
  const auto& a = dep->adapters[at];
  self->request(model, load_timeout, adapter_atom::value, a.name, a.path)
      .then([self, model, dep, at,
             done](model_info&) { load_adapters(self, model, dep, at + 1, done); },
            [done](caf::error& err) { done(err); });
}

/// The new replicas are loaded: route to them, drain the old ones.
void switch_to(server_self self, std::shared_ptr<deployed_version> dep,
               std::vector<replica> fresh) {
  auto& st = self->state;
  for (auto& [id, r] : st.replicas)
    if (!r.draining) {
      r.draining = true;
      st.router.drain(id);
    }
  for (auto& r : fresh) {
    self->monitor(r.model);
    st.replicas.emplace(st.router.add(), std::move(r));
  }
  if (st.current && st.current->weights_path != dep->weights_path)
    remove_files(*st.current); // replicas hold the weights in memory
  // A deployment ends any canary: its replicas were drained with the rest above.
  if (st.canary)
    remove_files(*st.canary);
  st.canary.reset();
  st.canary_share = 0.0;
  st.current = std::move(dep);
  log_info("server '" + st.cfg.name + "': serving " + st.model + " v" +
           std::to_string(st.current->version) + " on " + std::to_string(st.cfg.replicas) +
           " replica(s)");
  retire_idle(st);
  update_gauges(st);
}

/// The canary's replica is loaded: it takes its share from now on.
void add_canary(server_self self, std::shared_ptr<deployed_version> dep, std::vector<replica> fresh,
                double share) {
  auto& st = self->state;
  end_canary(st);
  for (auto& r : fresh) {
    r.canary = true;
    self->monitor(r.model);
    st.replicas.emplace(st.router.add(), std::move(r));
  }
  st.canary = std::move(dep);
  st.canary_share = share;
  st.canary_credit = 0.0;
  log_info("server '" + st.cfg.name + "': canary " + st.model + " v" +
           std::to_string(st.canary->version) + " takes " + std::to_string(share) +
           " of the traffic beside v" + std::to_string(st.current ? st.current->version : 0));
  update_gauges(st);
}

/// Replica `index` of `dep` as the node manager spawns it: a model actor of kind "model" with
/// the server's decoding keys, listed by `actors` as SERVER.vVERSION.rINDEX (INDEX counts every
/// replica the server placed).
spawn_request replica_request(const server_state& st, const deployed_version& dep, uint32_t index) {
  spawn_request req;
  req.kind = "model";
  req.name = st.cfg.name + ".v" + std::to_string(dep.version) + ".r" + std::to_string(index);
  req.config = st.cfg.replica_keys;
  req.config["spec"] = dep.spec_path;
  req.config["threads"] = std::to_string(st.cfg.threads);
  req.config["restart"] = "never"; // the server replaces a lost replica itself
  if (!st.cfg.device_name.empty())
    req.config["device"] = st.cfg.device_name;
  return req;
}

/// How loaded replicas join: as the deployment (the old replicas drain), as a canary, or
/// beside the deployed ones in place of a lost replica.
enum class joins { deployment, canary, replacement };

/// Replicas being placed and loaded together: they join when all are loaded, or all stop at
/// the first failure (one spawned after it stops on arrival).
struct replica_batch {
  std::shared_ptr<deployed_version> dep;
  std::vector<replica> fresh;
  uint32_t left = 0;
  bool failed = false;
  joins as = joins::deployment;
  double share = 0.0; ///< a canary's share of the traffic
  std::function<void(caf::error)> done;

  void fail(const caf::error& err) {
    if (failed)
      return;
    failed = true;
    for (auto& r : fresh)
      stop_replica(r);
    done(err);
  }
};

/// A replica is loaded (weights, then adapters): the last one makes the batch join.
void replica_loaded(server_self self, std::shared_ptr<replica_batch> batch) {
  if (batch->failed || --batch->left > 0)
    return;
  auto& st = self->state;
  if (batch->as == joins::deployment) {
    switch_to(self, batch->dep, std::move(batch->fresh));
  } else if (batch->as == joins::canary) {
    add_canary(self, batch->dep, std::move(batch->fresh), batch->share);
  } else if (st.current == batch->dep) { // still the deployed version
    for (auto& r : batch->fresh) {
      self->monitor(r.model);
      st.replicas.emplace(st.router.add(), std::move(r));
    }
    update_gauges(st);
  } else {
    for (auto& r : batch->fresh)
      stop_replica(r);
  }
  batch->done(caf::none);
}

/// A replica was placed: load the weights, then the adapters over them.
void load_replica(server_self self, std::shared_ptr<replica_batch> batch, model_actor model) {
  auto& st = self->state;
  replica r;
  r.model = model;
  r.dep = batch->dep;
  r.format = batch->dep->format;
  r.version = batch->dep->version;
  r.batcher = dynamic_batcher{st.cfg.batching};
  batch->fresh.push_back(std::move(r));
  auto failure = [batch](caf::error& err) { batch->fail(err); };
  self->request(model, load_timeout, load_atom::value, batch->dep->weights_path)
      .then(
          [self, batch, model](model_info&) {
            load_adapters(self, model, batch->dep, 0, [self, batch](const caf::error& err) {
              if (err)
                return batch->fail(err);
              replica_loaded(self, batch);
            });
          },
          failure);
}

/// Places `batch->left` replicas of its version through the node manager (like any model actor:
/// listed, on the server's device or a CPU device of their own) and loads them.
void place_replicas(server_self self, std::shared_ptr<replica_batch> batch) {
  auto& st = self->state;
  if (!st.cfg.manager)
    return batch->fail(
        make_llmos_error(error_code::unavailable,
                         "server '" + st.cfg.name + "': no node manager to place its replicas on"));
  auto nm = caf::actor_cast<node_manager_actor>(st.cfg.manager);
  for (uint32_t i = 0, n = batch->left; i < n; ++i)
    self->request(nm, call_timeout, spawn_atom::value,
                  replica_request(st, *batch->dep, ++st.spawned))
        .then(
            [self, batch](actor_entry& e) {
              auto model = caf::actor_cast<model_actor>(e.handle);
              if (batch->failed)
                return caf::anon_send_exit(model, caf::exit_reason::user_shutdown);
              load_replica(self, batch, model);
            },
            [batch](caf::error& err) { batch->fail(err); });
}

} // namespace

void stop_replica(replica& r) {
  caf::anon_send_exit(r.model, caf::exit_reason::user_shutdown);
}

void load_replicas(server_self self, std::shared_ptr<deployed_version> dep, uint32_t count,
                   double share, std::function<void(caf::error)> done) {
  auto batch = std::make_shared<replica_batch>();
  batch->dep = std::move(dep);
  batch->left = count;
  batch->as = share < 0 ? joins::deployment : joins::canary;
  batch->share = share;
  batch->done = std::move(done);
  place_replicas(self, std::move(batch));
}

void replace_replica(server_self self) {
  auto& st = self->state;
  if (!st.current)
    return;
  const auto now = std::chrono::steady_clock::now();
  while (!st.replacements.empty() && now - st.replacements.front() > std::chrono::minutes(1))
    st.replacements.pop_front();
  const auto most = 2 * static_cast<std::size_t>(st.cfg.replicas) + 1;
  if (st.replacements.size() >= most) {
    log_warning("server '" + st.cfg.name + "': " + std::to_string(most) +
                " replicas replaced within a minute; not replacing another now");
    return;
  }
  st.replacements.push_back(now);
  auto batch = std::make_shared<replica_batch>();
  batch->dep = st.current;
  batch->left = 1;
  batch->as = joins::replacement;
  batch->done = [self](caf::error err) {
    if (err)
      log_warning("server '" + self->state.cfg.name +
                  "': cannot replace a lost replica: " + describe(err));
  };
  log_info("server '" + st.cfg.name + "': a replica of v" + std::to_string(st.current->version) +
           " went down; placing another");
  place_replicas(self, std::move(batch));
}

} // namespace llmos::serving
