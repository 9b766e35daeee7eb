// A finished study's best trial published: its checkpoint loaded into a model actor of its
// own, bundled by the model publisher with the study's data set and lineage, and the helper
// model stopped again.
#include "llmos/messages/error.hpp"
#include "llmos/messages/model_publisher.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/log.hpp"
#include "tuner/tuner_state.hpp"

namespace llmos::tuner {
namespace {

using namespace std::chrono_literals;
using failure_fn = std::function<void(caf::error)>;

/// Stops the model actor that loaded a study's best trial for publishing: it served that one
/// purpose, and left alone it would hold its threads (the scheduler counts models it did not
/// place).
void stop_best(self_ptr self, const std::string& name) {
  self->request(caf::actor_cast<node_manager_actor>(self->state.cfg.manager), call_timeout,
                stop_atom::value, name + "-best")
      .then([](bool) {}, [](caf::error&) {});
}

/// The loaded best model goes to the registry with the study's data set and lineage.
void publish_loaded(self_ptr self, const std::string& name, model_actor model, caf::actor dataset,
                    caf::actor reg, const failure_fn& fail) {
  auto& s = self->state.studies.at(name);
  const auto best = *s.search->best_trial();
  publish_plan plan;
  plan.model = std::move(model);
  plan.dataset = caf::actor_cast<dataset_actor>(dataset);
  plan.registry = caf::actor_cast<registry_actor>(reg);
  plan.dataset_name = s.spec.dataset;
  plan.producer = "tuner study '" + name + "'";
  plan.note = "best of " + std::to_string(s.search->trials_started()) + " trials (" +
              tuner::to_string(s.spec.algorithm) + ")";
  plan.extra = {
      {"study", name}, {"trial", best}, {s.spec.metric, s.search->best_value().value_or(0)}};
  publish_model(self, std::move(plan), [self, name, fail](caf::expected<model_version> v) {
    if (!v)
      return fail(v.error());
    stop_best(self, name);
    auto& s = self->state.studies.at(name);
    s.published = v->name + " v" + std::to_string(v->version);
    end_study(self, s, "done");
  });
}

} // namespace

void publish_best(self_ptr self, const std::string& name) {
  auto& s = self->state.studies.at(name);
  auto best = s.search->best_trial();
  if (!best && !s.last_failure.empty()) { // nothing to answer with: say why
    s.error = "no trial reported " + s.spec.metric + "; the last failure: " + s.last_failure;
    return end_study(self, s, "failed");
  }
  if (!best || self->state.cfg.registry.empty())
    return end_study(self, s, "done");
  const auto actor = name + "-best";
  const auto ckpt = (folder_of(self, name) / ("t" + std::to_string(*best) + ".pt")).string();
  auto nm = caf::actor_cast<node_manager_actor>(self->state.cfg.manager);
  failure_fn fail = [self, name](caf::error err) {
    stop_best(self, name);
    auto& s = self->state.studies.at(name);
    s.error = "publishing the best trial: " + describe(err);
    end_study(self, s, "done");
  };
  // The model, its data set and the registry, one after the other.
  auto loaded = [self, name, fail](model_actor model) {
    lookup(
        self, self->state.studies.at(name).spec.dataset,
        [self, name, model, fail](caf::actor dataset) {
          lookup(
              self, self->state.cfg.registry,
              [self, name, model, dataset, fail](caf::actor reg) {
                publish_loaded(self, name, model, dataset, reg, fail);
              },
              fail);
        },
        fail);
  };
  spawn_request req{"", "model", actor, {{"spec", s.spec.model}, {"threads", "1"}}};
  self->request(nm, call_timeout, stop_atom::value, actor).then([](bool) {}, [](caf::error&) {});
  self->request(nm, call_timeout, spawn_atom::value, req)
      .then(
          [self, ckpt, loaded, fail](actor_entry& e) {
            auto model = caf::actor_cast<model_actor>(e.handle);
            self->request(model, 5min, load_atom::value, ckpt)
                .then([loaded, model](model_info&) { loaded(model); },
                      [fail](caf::error& err) { fail(err); });
          },
          [fail](caf::error& err) { fail(err); });
}

} // namespace llmos::tuner
