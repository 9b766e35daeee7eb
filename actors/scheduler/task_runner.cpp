// Running a placed task: every replica becomes a model actor on its node (spawned through the
// node managers under the task's name, "-rK" for rank K > 0), a gang of replicas meets at rank 0's
// rendezvous (data parallel), then each trains with its own checkpoint under the scheduler's
// root, resuming from it when it exists (a preempted, rescheduled or recovered task continues
// where it stopped). The outcome goes back to the core: done (with the report), failed, or
// stopped (preempted or cancelled).
#include <filesystem>
#include <sstream>

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/find_actor.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/runtime/log.hpp"
#include "scheduler/scheduler_state.hpp"
#include "scheduler/task_form.hpp"

namespace llmos::scheduler {

namespace {

using namespace std::chrono_literals;
constexpr auto call_timeout = 60s;
constexpr auto run_timeout = std::chrono::minutes(24 * 60); // a training run ends when it ends

node_manager_actor manager(self_ptr self) {
  return caf::actor_cast<node_manager_actor>(self->state.cfg.manager);
}

/// The run of task `id` if it is still run `epoch` (replies of older runs are dropped).
task_run* current(self_ptr self, uint64_t id, uint64_t epoch) {
  auto it = self->state.runs.find(id);
  return it != self->state.runs.end() && it->second.epoch == epoch ? &it->second : nullptr;
}

std::filesystem::path checkpoint_of(self_ptr self, const scheduler::task_record& t,
                                    std::size_t rank) {
  if (rank == 0)
    if (auto it = t.req.detail.find("checkpoint"); it != t.req.detail.end() && !it->second.empty())
      return it->second;
  return self->state.cfg.root / "tasks" / std::to_string(t.id) /
         ("rank" + std::to_string(rank) + ".pt");
}

void stop_actor(self_ptr self, const std::string& name) {
  if (name.empty()) // an ingest task's part: no actor of its own
    return;
  self->request(manager(self), call_timeout, stop_atom::value, name)
      .then([](bool) {}, [](caf::error&) {});
}

/// Every replica answered (or the run cannot go on): report to the core.
void conclude(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto node = st.runs.extract(id);
  if (node.empty())
    return;
  auto& run = node.mapped();
  caf::anon_send_exit(run.relay, caf::exit_reason::user_shutdown);
  const auto* t = st.core->task(id);
  if (!t)
    return;
  const auto now = now_s(st);
  const bool keep = t->req.detail.count("keep") == 0 || t->req.detail.at("keep") != "false";
  const bool success = !run.error && !run.preempted && t->state == scheduler::task_state::running;
  for (std::size_t k = 0; k < run.replicas.size(); ++k)
    if (!(success && keep && k == 0))
      stop_actor(self, run.replicas[k].actor);
  if (t->state == scheduler::task_state::stopping) {
    st.core->stopped(id, now);
  } else if (run.error) {
    log_warning("scheduler '" + st.cfg.name + "': task " + std::to_string(id) + " (" + t->req.name +
                ") failed: " + describe(*run.error));
    st.core->failed(id, now, describe(*run.error));
  } else if (run.preempted) { // the model stopped without being asked: a failure
    st.core->failed(id, now, "the run stopped before its end");
  } else {
    st.core->set_detail(id, "result", run.result);
    st.core->finished(id, now);
  }
  schedule_now(self);
}

/// A replica's part failed: remember the first error; stop the others (a gang cannot go on,
/// and replicas waiting in an all-reduce would wait for ever).
void replica_failed(self_ptr self, uint64_t id, uint64_t epoch, std::size_t k, caf::error err) {
  auto* run = current(self, id, epoch);
  if (!run)
    return;
  if (!run->error)
    run->error = std::move(err);
  for (std::size_t j = 0; j < run->replicas.size(); ++j)
    if (j != k && !run->replicas[j].replied)
      stop_actor(self, run->replicas[j].actor);
  if (--run->pending == 0)
    conclude(self, id);
}

void train_replica(self_ptr self, uint64_t id, uint64_t epoch, std::size_t k, model_actor model,
                   const train_request& req);

void train_all(self_ptr self, uint64_t id, uint64_t epoch, caf::actor dataset) {
  auto* run = current(self, id, epoch);
  const auto* t = self->state.core->task(id);
  if (!run || !t)
    return;
  if (run->stop_requested)
    return conclude(self, id);
  run->pending = run->replicas.size();
  for (std::size_t k = 0; k < run->replicas.size(); ++k) {
    train_request req;
    req.dataset = dataset;
    req.overrides = spec_overrides(t->req.detail);
    const auto ckpt = checkpoint_of(self, *t, k);
    std::error_code ec;
    std::filesystem::create_directories(ckpt.parent_path(), ec);
    req.checkpoint = ckpt.string();
    req.resume = std::filesystem::exists(ckpt, ec);
    if (k == 0)
      req.subscriber = run->relay;
    auto model = caf::actor_cast<model_actor>(run->replicas[k].model);
    // A fine-tune (detail init=WEIGHTS) starts from those weights; once it has a checkpoint of
    // its own (preempted, rescheduled) it resumes from that instead.
    auto init = t->req.detail.find("init");
    if (init != t->req.detail.end() && !init->second.empty() && !req.resume) {
      auto mode = t->req.detail.find("fine_tune");
      req.fine_tune = mode != t->req.detail.end() ? mode->second : "full";
      self->request(model, call_timeout, load_atom::value, init->second)
          .then(
              [self, id, epoch, k, model, req](model_info&) {
                auto* run = current(self, id, epoch);
                if (!run)
                  return;
                if (run->stop_requested) { // cancelled or preempted while the weights loaded
                  run->replicas[k].replied = true;
                  if (--run->pending == 0)
                    conclude(self, id);
                  return;
                }
                train_replica(self, id, epoch, k, model, req);
              },
              [self, id, epoch, k](caf::error& err) {
                if (auto* run = current(self, id, epoch))
                  run->replicas[k].replied = true;
                replica_failed(self, id, epoch, k, std::move(err));
              });
      continue;
    }
    train_replica(self, id, epoch, k, model, req);
  }
}

/// Replica k's training run; its report (rank 0's) is the task's result.
void train_replica(self_ptr self, uint64_t id, uint64_t epoch, std::size_t k, model_actor model,
                   const train_request& req) {
  self->request(model, run_timeout, train_atom::value, req)
      .then(
          [self, id, epoch, k](train_report& rep) {
            auto* run = current(self, id, epoch);
            if (!run)
              return;
            run->replicas[k].replied = true;
            run->preempted = run->preempted || rep.preempted;
            if (k == 0) {
              nlohmann::json j{{"steps", rep.steps},
                               {"loss", rep.loss},
                               {"seconds", rep.seconds},
                               {"samples_per_second", rep.samples_per_second},
                               {"stopped_early", rep.stopped_early}};
              auto eval = nlohmann::json::parse(rep.evaluation, nullptr, false);
              j["evaluation"] = eval.is_discarded() ? nlohmann::json{} : eval;
              run->result = j.dump();
            }
            if (--run->pending == 0)
              conclude(self, id);
          },
          [self, id, epoch, k](caf::error& err) {
            if (auto* run = current(self, id, epoch))
              run->replicas[k].replied = true;
            replica_failed(self, id, epoch, k, std::move(err));
          });
}

/// The run cannot go on (no data set, no rendezvous): stops what was spawned and concludes.
void run_failed(self_ptr self, uint64_t id, uint64_t epoch, caf::error err) {
  if (auto* run = current(self, id, epoch)) {
    run->pending = 1;
    replica_failed(self, id, epoch, run->replicas.size(), std::move(err));
  }
}

/// Finds the data set, then trains.
void find_dataset_then_train(self_ptr self, uint64_t id, uint64_t epoch) {
  const auto* t = self->state.core->task(id);
  if (!t)
    return;
  find_actor(
      self, self->state.cfg.manager, t->req.detail.at("dataset"),
      [self, id, epoch](caf::actor dataset) { train_all(self, id, epoch, dataset); },
      [self, id, epoch](caf::error err) { run_failed(self, id, epoch, std::move(err)); },
      call_timeout);
}

/// Data-parallel replicas meet: rank 0 binds the rendezvous, the others join it.
void rendezvous(self_ptr self, uint64_t id, uint64_t epoch) {
  auto* run = current(self, id, epoch);
  if (!run)
    return;
  const auto world = static_cast<uint32_t>(run->replicas.size());
  if (world == 1)
    return find_dataset_then_train(self, id, epoch);
  const auto host = self->state.nodes[run->replicas[0].node].host;
  auto fail = [self, id, epoch](caf::error err) { run_failed(self, id, epoch, std::move(err)); };
  self->request(caf::actor_cast<model_actor>(run->replicas[0].model), call_timeout,
                dp_join_atom::value, uint32_t{0}, world, host, uint16_t{0}, std::string{},
                std::string{"auto"})
      .then(
          [self, id, epoch, world, host, fail](uint16_t port) {
            auto* run = current(self, id, epoch);
            if (!run)
              return;
            auto left = std::make_shared<uint32_t>(world - 1);
            for (uint32_t k = 1; k < world; ++k)
              self->request(caf::actor_cast<model_actor>(run->replicas[k].model), call_timeout,
                            dp_join_atom::value, k, world, host, port, std::string{},
                            std::string{"auto"})
                  .then(
                      [self, id, epoch, left](uint16_t) {
                        if (--*left == 0)
                          find_dataset_then_train(self, id, epoch);
                      },
                      [fail](caf::error& err) { fail(std::move(err)); });
          },
          [fail](caf::error& err) { fail(std::move(err)); });
}

/// An ingest task: the data set's own actor runs its pipeline (where it lives: the scheduler
/// queued the task, ordered it and counts its thread while it runs); the new version's figures
/// are the result.
void run_ingest(self_ptr self, uint64_t id, uint64_t epoch, const std::string& dataset) {
  auto fail = [self, id, epoch](caf::error err) {
    if (auto* run = current(self, id, epoch))
      run->replicas[0].replied = true;
    replica_failed(self, id, epoch, 0, std::move(err));
  };
  find_actor(
      self, self->state.cfg.manager, dataset,
      [self, id, epoch, fail](caf::actor ds) {
        auto* run = current(self, id, epoch);
        if (!run)
          return;
        self->request(caf::actor_cast<dataset_actor>(ds), run_timeout, ingest_atom::value,
                      run->relay)
            .then(
                [self, id, epoch](dataset_stats& s) {
                  auto* run = current(self, id, epoch);
                  if (!run)
                    return;
                  run->replicas[0].replied = true;
                  run->result = nlohmann::json{{"dataset", s.dataset},       {"version", s.version},
                                               {"records", s.records},       {"train", s.train},
                                               {"validation", s.validation}, {"test", s.test}}
                                    .dump();
                  if (--run->pending == 0)
                    conclude(self, id);
                },
                [fail](caf::error& err) { fail(std::move(err)); });
      },
      fail, call_timeout);
}

/// A run of task `t` on `where`: its replicas' nodes and names, a new epoch, and the relay that
/// forwards its progress to the scheduler.
task_run new_run(self_ptr self, uint64_t id, const scheduler::task_record& t,
                 const scheduler::placement& where) {
  auto& st = self->state;
  task_run run;
  run.epoch = ++st.epochs;
  for (std::size_t k = 0; k < where.size(); ++k) {
    replica_run r;
    r.node = st.core->cluster().nodes()[where[k].node].name;
    r.actor = k == 0 ? t.req.name : t.req.name + "-r" + std::to_string(k);
    run.replicas.push_back(std::move(r));
  }
  run.pending = run.replicas.size();
  auto me = caf::actor_cast<scheduler_actor>(self);
  run.relay = self->spawn([me, id](caf::event_based_actor*) -> caf::behavior {
    return {[me, id](progress_atom, progress_event& ev) {
      caf::anon_send(me, progress_atom::value, id, std::move(ev));
    }};
  });
  return run;
}

/// Spawns replica k of a train task's run as a model actor on its node, after stopping any
/// earlier replica that still holds the name; the last one spawned starts the rendezvous.
void spawn_replica(self_ptr self, uint64_t id, uint64_t epoch, std::size_t k,
                   const std::map<std::string, std::string>& config) {
  const auto& r = self->state.runs[id].replicas[k];
  spawn_request req{r.node, "model", r.actor, config};
  auto spawn = [self, id, epoch, k, req]() {
    self->request(manager(self), call_timeout, spawn_atom::value, req)
        .then(
            [self, id, epoch, k](actor_entry& e) {
              auto* run = current(self, id, epoch);
              if (!run)
                return;
              run->replicas[k].model = e.handle;
              if (--run->pending > 0)
                return;
              if (run->error) // another replica could not be spawned
                return conclude(self, id);
              run->pending = run->replicas.size();
              rendezvous(self, id, epoch);
            },
            [self, id, epoch, k](caf::error& err) {
              replica_failed(self, id, epoch, k, std::move(err));
            });
  };
  self->request(manager(self), call_timeout, stop_atom::value, r.actor)
      .then([spawn](bool) { spawn(); }, [spawn](caf::error&) { spawn(); });
}

} // namespace

void start_task(self_ptr self, uint64_t id, const scheduler::placement& where) {
  auto& st = self->state;
  const auto* t = st.core->task(id);
  if (!t)
    return;
  auto run = new_run(self, id, *t, where);
  const auto epoch = run.epoch;
  log_info("scheduler '" + st.cfg.name + "': starting task " + std::to_string(id) + " (" +
           t->req.name + ") on " + run.replicas.front().node +
           (where.size() > 1 ? " and " + std::to_string(where.size() - 1) + " more" : ""));
  if (auto kind = t->req.detail.find("kind");
      kind != t->req.detail.end() && kind->second == "ingest") {
    run.replicas.front().actor.clear(); // it spawns nothing
    run.pending = 1;
    const auto dataset = t->req.detail.at("dataset");
    st.runs[id] = std::move(run);
    return run_ingest(self, id, epoch, dataset);
  }
  const std::map<std::string, std::string> config{
      {"spec", t->req.detail.at("spec")},
      {"threads", std::to_string(t->req.per_replica.cpu_threads)}};
  st.runs[id] = std::move(run);
  for (std::size_t k = 0; k < where.size(); ++k)
    spawn_replica(self, id, epoch, k, config);
}

void stop_task(self_ptr self, uint64_t id) {
  auto it = self->state.runs.find(id);
  if (it == self->state.runs.end()) {
    // Nothing of it runs here (recovered, or between runs): it has stopped.
    self->state.core->stopped(id, now_s(self->state));
    return;
  }
  it->second.stop_requested = true;
  for (const auto& r : it->second.replicas)
    if (r.model)
      self->request(caf::actor_cast<model_actor>(r.model), call_timeout, stop_atom::value)
          .then([](bool) {}, [](caf::error&) {});
}

void abandon_task(self_ptr self, uint64_t id) {
  auto node = self->state.runs.extract(id);
  if (node.empty())
    return;
  caf::anon_send_exit(node.mapped().relay, caf::exit_reason::user_shutdown);
  for (const auto& r : node.mapped().replicas)
    stop_actor(self, r.actor);
}

void on_progress(self_ptr self, uint64_t id, const progress_event& ev) {
  auto run = self->state.runs.find(id);
  if (run == self->state.runs.end())
    return;
  std::ostringstream line;
  line << ev.stage << " " << ev.done << "/" << ev.total;
  if (!ev.message.empty())
    line << " " << ev.message;
  run->second.progress = line.str();
  if (auto w = self->state.waiters.find(id); w != self->state.waiters.end())
    for (auto& x : w->second)
      if (x.progress)
        caf::anon_send(x.progress, progress_atom::value, ev);
}

} // namespace llmos::scheduler
