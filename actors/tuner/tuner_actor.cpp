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
#include "tuner/tuner_state.hpp"

namespace llmos::tuner {

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

void lookup(self_ptr self, const std::string& name, std::function<void(caf::actor)> then,
            std::function<void(caf::error)> fail) {
  find_actor(self, self->state.cfg.manager, name, std::move(then), std::move(fail));
}

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

} // namespace llmos::tuner

namespace llmos {
namespace {

using namespace tuner;

void pump(self_ptr self, const std::string& name);

using failure_fn = std::function<void(caf::error)>;

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

/// The keys a topology may give a tuner actor.
const std::vector<config_field> tuner_fields = {
    optional_key("scheduler", config_type::string, "scheduler", "scheduler actor name"),
    optional_key("registry", config_type::string, "registry",
                 "registry for the best model (\"\" = do not publish)"),
    optional_key("root", config_type::path, "",
                 "folder of study states and trial checkpoints; default .cache/state/tuner"),
    optional_key("threads", config_type::integer, "1", "CPU threads per trial"),
};

caf::expected<caf::actor> spawn_tuner(spawn_context& ctx) {
  tuner_config cfg;
  cfg.name = ctx.name;
  cfg.scheduler = ctx.config["scheduler"];
  cfg.registry = ctx.config["registry"];
  cfg.root = state_root(ctx.config["root"], "tuner");
  cfg.manager = ctx.manager;
  auto threads = config_integer(ctx.config, "threads", 1, 1024);
  if (!threads)
    return std::move(threads.error());
  cfg.threads = static_cast<uint32_t>(*threads);
  if (!cfg.manager)
    return make_llmos_error(error_code::bad_config,
                            "tuner '" + ctx.name + "' needs a node manager to find the scheduler");
  return caf::actor_cast<caf::actor>(ctx.system.spawn(behavior, std::move(cfg)));
}

} // namespace

actor_kind tuner_kind() {
  return {"tuner", "hyper-parameter studies whose trials run as scheduler tasks", tuner_fields,
          spawn_tuner};
}

} // namespace llmos
