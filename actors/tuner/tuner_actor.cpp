#include "tuner/tuner_actor.hpp"

#include <filesystem>
#include <limits>
#include <map>
#include <memory>

#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/messages/find_actor.hpp"
#include "llmos/messages/model_publisher.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/runtime/atomic_file.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/state_dir.hpp"
#include "tuner/core/searcher.hpp"

namespace llmos {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
constexpr auto call_timeout = 30s;

struct tuner_config {
  std::string name;
  std::string scheduler = "scheduler";
  std::string registry = "registry"; ///< "" = do not publish
  fs::path root;
  uint32_t threads = 1; ///< threads per trial
  caf::actor manager;
};

struct study_run {
  tuner::study_spec spec;
  std::unique_ptr<tuner::searcher> search;
  std::string state = "running";
  std::string error;
  std::string last_failure; ///< "trial N: why", for a study no trial of which reports its metric
  std::string published;
  std::map<uint64_t, tuner::trial_job> jobs;        ///< scheduler task id -> job in flight
  nlohmann::json history = nlohmann::json::array(); ///< [compute_used, rung, value] per result
  std::vector<caf::typed_response_promise<study_status>> waiters;
};

struct tuner_state {
  tuner_config cfg;
  std::map<std::string, study_run> studies;
  static inline const char* name = "llmos.tuner";
};

using self_ptr = tuner_actor::stateful_pointer<tuner_state>;

fs::path folder_of(self_ptr self, const std::string& study) {
  return self->state.cfg.root / study;
}

study_status status_of(const study_run& s) {
  study_status st;
  st.name = s.spec.name;
  st.algorithm = tuner::to_string(s.spec.algorithm);
  st.state = s.state;
  st.trials_started = s.search->trials_started();
  st.running = s.search->running();
  st.compute_used = s.search->compute_used();
  if (auto best = s.search->best_trial()) {
    st.best_trial = static_cast<int64_t>(*best);
    st.best_value = s.search->best_value().value_or(0);
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [k, v] : s.search->params_of(*best).value_or(tuner::assignment{}))
      params[k] = v;
    st.best_params = params.dump();
  }
  st.published = s.published;
  st.error = s.error;
  st.trials = s.search->to_json().value("trials", nlohmann::json::array()).dump();
  st.history = s.history.dump();
  return st;
}

void save(self_ptr self, const study_run& s) {
  const auto dir = folder_of(self, s.spec.name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  nlohmann::json j{{"searcher", s.search->to_json()},
                   {"history", s.history},
                   {"state", s.state},
                   {"error", s.error},
                   {"published", s.published}};
  if (auto ok = replace_file_atomically(dir / "study.json", dir / "study.json.tmp", j.dump()); !ok)
    log_warning("tuner '" + self->state.cfg.name + "': " + describe(ok.error()));
}

/// The actor named `name` (the scheduler, a data set, the registry), then `then(handle)`.
void lookup(self_ptr self, const std::string& name, std::function<void(caf::actor)> then,
            std::function<void(caf::error)> fail) {
  find_actor(self, self->state.cfg.manager, name, std::move(then), std::move(fail));
}

void pump(self_ptr self, const std::string& name);

void end_study(self_ptr self, study_run& s, const std::string& state) {
  s.state = state;
  save(self, s);
  log_info("tuner '" + self->state.cfg.name + "': study " + s.spec.name + " " + state +
           (s.search->best_trial() ? ", best trial " + std::to_string(*s.search->best_trial())
                                   : std::string{}));
  auto st = status_of(s);
  for (auto& w : s.waiters)
    w.deliver(st);
  s.waiters.clear();
}

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

/// The best trial's checkpoint as a registry version: a model actor loads it, the publisher
/// bundles weights, spec, tokenizer, metrics and lineage.
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

/// A trial's task ended: its evaluation is the result (or the trial failed).
void on_trial_end(self_ptr self, const std::string& name, uint64_t task, const task_status& t) {
  auto it = self->state.studies.find(name);
  if (it == self->state.studies.end())
    return;
  auto& s = it->second;
  auto job = s.jobs.find(task);
  if (job == s.jobs.end())
    return;
  const auto j = job->second;
  s.jobs.erase(job);
  // The metric is in the run's last evaluation: top level (loss, perplexity) or under
  // "metrics" (accuracy, macro_f1).
  auto result = nlohmann::json::parse(t.result, nullptr, false);
  const auto eval =
      result.is_object() ? result.value("evaluation", nlohmann::json{}) : nlohmann::json{};
  const auto& metric = s.spec.metric;
  nlohmann::json found;
  if (eval.is_object() && eval.contains(metric))
    found = eval[metric];
  else if (eval.is_object() && eval.value("metrics", nlohmann::json{}).contains(metric))
    found = eval["metrics"][metric];
  if (t.state == "done" && found.is_number()) {
    const double value = found.get<double>();
    s.search->report(j.trial, j.rung, value);
    s.history.push_back({s.search->compute_used(), j.rung, value, j.trial});
  } else {
    s.last_failure = "trial " + std::to_string(j.trial) + " " + t.state +
                     (t.error.empty() ? "" : ": " + t.error);
    log_warning("tuner '" + self->state.cfg.name + "': " + s.last_failure + " (study " + name +
                ")");
    s.search->fail(j.trial, j.rung);
  }
  save(self, s);
  pump(self, name);
}

/// A trial's task (or its submission) failed: the trial ends failed.
void trial_failed(self_ptr self, const std::string& name, uint64_t task, const caf::error& err) {
  task_status t;
  t.state = "failed";
  t.error = describe(err);
  on_trial_end(self, name, task, t);
}

/// The training task of one trial: the study's model and data set with the trial's parameters
/// and its resource as max_steps.
task_spec trial_task(self_ptr self, const std::string& name, const study_run& s,
                     const tuner::trial_job& job) {
  task_spec t;
  t.name = name + "-t" + std::to_string(job.trial);
  t.owner = "tuner:" + name;
  t.cpu_threads = self->state.cfg.threads;
  t.detail = {
      {"kind", "train"},
      {"spec", s.spec.model},
      {"dataset", s.spec.dataset},
      {"keep", "false"},
      {"checkpoint", (folder_of(self, name) / ("t" + std::to_string(job.trial) + ".pt")).string()}};
  for (const auto& [k, v] : s.spec.overrides)
    t.detail["set." + k] = v;
  for (const auto& [k, v] : job.params)
    t.detail["set." + k] = v;
  t.detail["set.max_steps"] = std::to_string(static_cast<int64_t>(job.resource));
  return t;
}

/// Submits a trial's task; once the scheduler numbers it, the trial's placeholder takes the
/// number and the tuner waits for its end.
void submit_trial(self_ptr self, const std::string& name, const task_spec& t,
                  uint64_t placeholder) {
  lookup(
      self, self->state.cfg.scheduler,
      [self, name, t, placeholder](caf::actor handle) {
        auto sched = caf::actor_cast<scheduler_actor>(handle);
        self->request(sched, call_timeout, submit_atom::value, t)
            .then(
                [self, name, sched, placeholder](uint64_t id) {
                  auto& s = self->state.studies.at(name);
                  auto node = s.jobs.extract(placeholder);
                  if (node.empty())
                    return;
                  s.jobs[id] = node.mapped();
                  self->request(sched, std::chrono::minutes(24 * 60), wait_atom::value, id,
                                caf::actor{})
                      .then(
                          [self, name, id](task_status& t) { on_trial_end(self, name, id, t); },
                          [self, name, id](caf::error& err) { trial_failed(self, name, id, err); });
                },
                [self, name, placeholder](caf::error& err) {
                  trial_failed(self, name, placeholder, err);
                });
      },
      [self, name, placeholder](caf::error err) { trial_failed(self, name, placeholder, err); });
}

/// Starts trials until `parallel` run or the searcher has nothing to start now.
void pump(self_ptr self, const std::string& name) {
  auto& s = self->state.studies.at(name);
  if (s.state != "running")
    return;
  if (s.search->finished() && s.jobs.empty())
    return publish_best(self, name);
  while (s.jobs.size() < static_cast<std::size_t>(std::max(1, s.spec.parallel))) {
    auto job = s.search->next_job();
    if (!job)
      break;
    const auto placeholder = std::numeric_limits<uint64_t>::max() - job->trial;
    s.jobs[placeholder] = *job; // counts as running until the scheduler answers
    submit_trial(self, name, trial_task(self, name, s, *job), placeholder);
  }
}

caf::result<study_status> start_study(self_ptr self, const std::string& file) {
  auto spec = tuner::load_study_spec(file);
  if (!spec)
    return std::move(spec.error());
  auto& studies = self->state.studies;
  if (auto it = studies.find(spec->name); it != studies.end() && it->second.state == "running")
    return status_of(it->second);
  study_run run;
  run.spec = *spec;
  const auto saved = folder_of(self, spec->name) / "study.json";
  if (fs::exists(saved)) {
    auto text = read_whole_file(saved);
    auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json{};
    if (j.is_discarded() || !j.is_object())
      return make_llmos_error(error_code::bad_config, saved.string() + ": not a study state");
    auto restored = tuner::restore_searcher(*spec, j.value("searcher", nlohmann::json{}));
    if (!restored)
      return make_llmos_error(error_code::bad_config,
                              saved.string() + ": " + describe(restored.error()) +
                                  " (remove the folder to start the study afresh)");
    run.search = std::move(*restored);
    run.history = j.value("history", nlohmann::json::array());
    run.published = j.value("published", "");
    // A finished study answers what it found (or why it failed); a stopped one carries on.
    if (const auto state = j.value("state", "running"); state == "done" || state == "failed") {
      run.state = state;
      run.error = j.value("error", "");
    }
    log_info("tuner '" + self->state.cfg.name + "': resuming study " + spec->name + " (" +
             std::to_string(run.search->trials_started()) + " trials so far)");
  } else {
    run.search = tuner::make_searcher(*spec);
  }
  const auto name = spec->name;
  studies[name] = std::move(run);
  save(self, studies[name]);
  pump(self, name);
  return status_of(studies[name]);
}

caf::error unknown_study(self_ptr self, const std::string& name) {
  return make_llmos_error(error_code::not_found,
                          "tuner '" + self->state.cfg.name + "': no study '" + name + "'");
}

tuner_actor::behavior_type behavior(self_ptr self, tuner_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
      [self](study_atom, const std::string& file) { return start_study(self, file); },
      [self](status_atom, const std::string& name) -> caf::result<study_status> {
        auto it = self->state.studies.find(name);
        if (it == self->state.studies.end())
          return unknown_study(self, name);
        return status_of(it->second);
      },
      [self](list_atom) {
        std::vector<study_status> out;
        for (const auto& [name, s] : self->state.studies)
          out.push_back(status_of(s));
        return out;
      },
      [self](wait_atom, const std::string& name) -> caf::result<study_status> {
        auto it = self->state.studies.find(name);
        if (it == self->state.studies.end())
          return unknown_study(self, name);
        if (it->second.state != "running")
          return status_of(it->second);
        auto p = self->make_response_promise<study_status>();
        it->second.waiters.push_back(p);
        return p;
      },
      [self](stop_atom, const std::string& name) -> caf::result<study_status> {
        auto it = self->state.studies.find(name);
        if (it == self->state.studies.end())
          return unknown_study(self, name);
        auto& s = it->second;
        if (s.state == "running") {
          lookup(
              self, self->state.cfg.scheduler,
              [self, ids = s.jobs](caf::actor handle) {
                for (const auto& [id, job] : ids)
                  self->request(caf::actor_cast<scheduler_actor>(handle), call_timeout,
                                cancel_atom::value, id)
                      .then([](task_status&) {}, [](caf::error&) {});
              },
              [](caf::error) {});
          end_study(self, s, "stopped");
        }
        return status_of(s);
      },
  };
}

} // namespace

actor_kind tuner_kind() {
  actor_kind kind;
  kind.name = "tuner";
  kind.help = "hyper-parameter studies whose trials run as scheduler tasks";
  kind.fields = {
      {"scheduler", config_type::string, "scheduler", false, "scheduler actor name", {}},
      {"registry",
       config_type::string,
       "registry",
       false,
       "registry for the best model (\"\" = do not publish)",
       {}},
      {"root",
       config_type::path,
       "",
       false,
       "folder of study states and trial checkpoints; default .cache/state/tuner",
       {}},
      {"threads", config_type::integer, "1", false, "CPU threads per trial", {}},
  };
  kind.spawn = [](spawn_context& ctx) -> caf::expected<caf::actor> {
    tuner_config cfg;
    cfg.name = ctx.name;
    cfg.scheduler = ctx.config["scheduler"];
    cfg.registry = ctx.config["registry"];
    // Beside the data sets' and the registry's state, never inside the source tree.
    cfg.root =
        ctx.config["root"].empty() ? fs::path{state_dir()} / "tuner" : fs::path{ctx.config["root"]};
    cfg.manager = ctx.manager;
    const long long threads = std::stoll(ctx.config["threads"]);
    if (threads < 1 || threads > 1024)
      return make_llmos_error(error_code::bad_config,
                              "config key 'threads' must be from 1 to 1024, got " +
                                  ctx.config["threads"]);
    cfg.threads = static_cast<uint32_t>(threads);
    if (!cfg.manager)
      return make_llmos_error(error_code::bad_config,
                              "tuner '" + ctx.name +
                                  "' needs a node manager to find the scheduler");
    return caf::actor_cast<caf::actor>(ctx.system.spawn(behavior, std::move(cfg)));
  };
  return kind;
}

} // namespace llmos
