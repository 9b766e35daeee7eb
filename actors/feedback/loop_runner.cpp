// The loop, one round at a time: a trigger (corrections, accuracy, drift) starts a round; the
// round writes the original training data and the labelled feedback next to the production
// weights, has two data sets built from them with production's own tokenizer, fine-tunes
// production's weights on them through the scheduler, evaluates candidate and production on the
// original held-out data and on the held-out feedback, runs an accepted candidate as a canary
// and promotes it (the registry alias moves; the server follows) or rolls it back. Every step
// that decides something is written to the history with its numbers.
#include <cmath>
#include <fstream>

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "feedback/core/loop_decisions.hpp"
#include "feedback/feedback_state.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/find_actor.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/model_publisher.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/messages/serving.hpp"
#include "llmos/runtime/log.hpp"
#include "model/core/model_spec.hpp"

namespace llmos::feedback {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
constexpr auto call_timeout = 60s;
constexpr auto long_timeout = std::chrono::minutes(60);

using fail_fn = std::function<void(caf::error)>;

/// Moves round `r` on; a move out of order is a step that ran late, logged and not taken.
bool enter(loop_round& r, round_stage next) {
  if (r.progress.move_to(next))
    return true;
  log_error(std::string{"feedback loop: round "} + std::to_string(r.number) + " cannot go from " +
            to_string(r.progress.stage()) + " to " + to_string(next) + "; step skipped");
  return false;
}

void lookup(analyst_self self, const std::string& name, std::function<void(caf::actor)> then,
            fail_fn fail) {
  find_actor(self, self->state.cfg.manager, name, std::move(then), std::move(fail));
}

/// Ends the round: the decision is recorded, the round's helper actors stop, a cooldown starts.
void end_round(analyst_self self, const std::string& decision, const std::string& why,
               nlohmann::json extra = nlohmann::json::object()) {
  auto& st = self->state;
  if (!st.round)
    return;
  extra["decision"] = decision;
  extra["why"] = why;
  extra["scores"] = st.round->scores;
  extra["production"] = st.round->production;
  if (st.round->candidate > 0)
    extra["candidate"] = st.round->candidate;
  extra["seconds"] = wall_now() - st.round->started;
  record_decision(self, std::move(extra));
  // A round that failed while its candidate was on trial must not leave the canary running.
  if (decision == "failed" && st.round->candidate > 0 && st.round->progress.candidate_on_trial())
    lookup(
        self, st.policy->server,
        [self](caf::actor server) {
          self->request(caf::actor_cast<server_actor>(server), call_timeout, canary_atom::value,
                        std::string{}, 0.0)
              .then([](server_status&) {}, [](caf::error&) {});
        },
        [](caf::error) {});
  auto nm = caf::actor_cast<node_manager_actor>(st.cfg.manager);
  for (const auto& name : {st.round->task, st.round->tuned_dataset, st.round->eval_dataset,
                           st.round->task + "-production"})
    if (!name.empty())
      self->request(nm, call_timeout, stop_atom::value, name).then([](bool) {}, [](caf::error&) {});
  st.round.reset();
  st.cooldown_until = wall_now() + st.policy->triggers.cooldown_s;
}

/// Ends the round that is current now with `step`'s error; a late error for a round that
/// already ended (or another round's) is dropped.
fail_fn round_failed(analyst_self self, const std::string& step) {
  const auto number = self->state.round ? self->state.round->number : 0;
  return [self, step, number](caf::error err) {
    if (self->state.round && self->state.round->number == number)
      end_round(self, "failed", step + ": " + describe(err));
  };
}

/// Higher is better: a classifier's accuracy, a language model's mean log-likelihood per token
/// (-ln perplexity), so that the same margins and comparisons apply.
double score_of(const std::string& evaluation) {
  auto j = nlohmann::json::parse(evaluation, nullptr, false);
  if (j.is_discarded())
    return 0.0;
  if (j.contains("perplexity") && j["perplexity"].is_number())
    return -std::log(std::max(j["perplexity"].get<double>(), 1e-9));
  if (j.contains("metrics") && j["metrics"].is_object())
    return j["metrics"].value("accuracy", 0.0);
  return j.value("accuracy", 0.0);
}

/// Outcomes and successes of a version: labelled and correct for classifiers, rated and thumbs
/// up for language models.
std::pair<uint64_t, uint64_t> outcomes(const version_stats* v, bool language) {
  if (!v)
    return {0, 0};
  if (language)
    return {v->thumbs_up() + v->thumbs_down(), v->thumbs_up()};
  return {v->labelled(), v->labelled() - v->corrections()};
}

caf::error write_file(const fs::path& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
  out.close();
  if (!out)
    return make_llmos_error(error_code::io_failed, "cannot write " + path.string());
  return caf::none;
}

std::string jsonl_line(const std::string& id, const std::string& text, const std::string& label) {
  return nlohmann::json{{"id", id}, {"text", text}, {"label", label}}.dump() + "\n";
}

/// A pipeline over JSON-lines files that are already clean text: production's tokenizer.
std::string pipeline_text(const std::string& dataset, const fs::path& dir,
                          const std::vector<std::pair<std::string, fs::path>>& sources,
                          const std::string& split, uint32_t max_length, bool labelled) {
  std::string y = "# Written by the feedback loop (round folder " + dir.string() + ").\n";
  y += "dataset: " + dataset + "\nroot: " + (dir / "data").string() + "\nsources:\n";
  for (const auto& [name, path] : sources)
    y += "  - {name: " + name + ", kind: jsonl, path: " + path.string() +
         (labelled ? ", options: {text_field: text, label_field: label}}\n"
                   : ", options: {text_field: text}}\n");
  y += "split: " + split + "\n";
  y += "tokenizer: {from: " + (dir / "tokenizer.bin").string() +
       ", max_length: " + std::to_string(max_length) + "}\n";
  return y;
}

/// Spawns a data set actor for `pipeline` (replacing one of the name) and ingests it.
void build_dataset(analyst_self self, const std::string& name, const fs::path& pipeline,
                   std::function<void(caf::actor)> then, fail_fn fail) {
  auto nm = caf::actor_cast<node_manager_actor>(self->state.cfg.manager);
  spawn_request req{"", "dataset", name, {{"pipeline", pipeline.string()}}};
  self->request(nm, call_timeout, stop_atom::value, name).then([](bool) {}, [](caf::error&) {});
  self->request(nm, call_timeout, spawn_atom::value, req)
      .then(
          [self, then, fail](actor_entry& e) {
            auto ds = caf::actor_cast<dataset_actor>(e.handle);
            self->request(ds, long_timeout, ingest_atom::value, caf::actor{})
                .then([then, h = e.handle](dataset_stats&) { then(h); },
                      [fail](caf::error& err) { fail(err); });
          },
          [fail](caf::error& err) { fail(err); });
}

void start_canary(analyst_self self);

/// Candidate and production on the original held-out data and on the held-out feedback.
void evaluate(analyst_self self, caf::actor candidate, caf::actor production) {
  auto& st = self->state;
  auto& r = *st.round;
  if (!enter(r, round_stage::evaluating))
    return;
  auto left = std::make_shared<int>(4);
  auto fail = round_failed(self, "evaluation");
  auto score = [self, left, number = r.number](const std::string& key) {
    return [self, left, key, number](std::string& eval) {
      if (!self->state.round || self->state.round->number != number)
        return; // a reply for a round that already failed
      self->state.round->scores[key] = score_of(eval);
      if (--*left == 0)
        start_canary(self);
    };
  };
  lookup(
      self, r.base_dataset,
      [self, candidate, production, score, fail](caf::actor base) {
        lookup(
            self, self->state.round->eval_dataset,
            [self, candidate, production, base, score, fail](caf::actor held) {
              auto ask = [self, fail](caf::actor model, caf::actor ds, auto then) {
                self->request(caf::actor_cast<model_actor>(model), long_timeout,
                              evaluate_atom::value, ds, std::string{"test"})
                    .then(then, [fail](caf::error& err) { fail(err); });
              };
              ask(candidate, base, score("candidate_heldout"));
              ask(production, base, score("production_heldout"));
              ask(candidate, held, score("candidate_feedback"));
              ask(production, held, score("production_feedback"));
            },
            fail);
      },
      fail);
}

/// The server took the candidate as its canary: the round watches it from now on.
void canary_running(analyst_self self, double share) {
  auto& st = self->state;
  auto& r = *st.round;
  if (!enter(r, round_stage::canary))
    return;
  r.canary_started = wall_now();
  std::tie(r.prod_labelled0, r.prod_correct0) =
      outcomes(st.analysis.find(st.policy->model, r.production), r.language);
  record_decision(self, {{"decision", "canary"},
                         {"why", "v" + std::to_string(r.candidate) + " takes " +
                                     std::to_string(share) + " of the traffic"},
                         {"candidate", r.candidate}});
}

/// The published candidate goes to the server as a canary with the policy's share.
void run_canary(analyst_self self, const fail_fn& fail) {
  const auto share = self->state.policy->canary.share;
  lookup(
      self, self->state.policy->server,
      [self, share, fail](caf::actor server) {
        auto& r = *self->state.round;
        self->request(caf::actor_cast<server_actor>(server), long_timeout, canary_atom::value,
                      std::to_string(r.candidate), share)
            .then([self, share](server_status&) { canary_running(self, share); },
                  [fail](caf::error& err) { fail(err); });
      },
      fail);
}

/// The candidate becomes a registry version with the round's lineage, then the canary.
void publish_candidate(analyst_self self, caf::actor model, caf::actor ds, caf::actor reg,
                       const fail_fn& fail) {
  auto& r = *self->state.round;
  publish_plan plan;
  plan.model = caf::actor_cast<model_actor>(model);
  plan.dataset = caf::actor_cast<dataset_actor>(ds);
  plan.registry = caf::actor_cast<registry_actor>(reg);
  plan.dataset_name = r.tuned_dataset;
  plan.name = self->state.policy->model;
  plan.producer = "feedback loop '" + self->state.cfg.name + "'";
  plan.note = "round " + std::to_string(r.number) + ": " + r.reason;
  plan.extra = {{"round", r.number},
                {"fine_tuned_from", r.production},
                {"labelled_feedback", r.labelled_used},
                {"scores", r.scores}};
  publish_model(self, std::move(plan), [self, fail](caf::expected<model_version> v) {
    if (!v)
      return fail(v.error());
    if (!self->state.round)
      return;
    self->state.round->candidate = v->version;
    run_canary(self, fail);
  });
}

/// The fine-tuned model, judged; if accepted, published and started as a canary.
void start_canary(analyst_self self) {
  auto& st = self->state;
  auto& r = *st.round;
  const auto& s = r.scores;
  auto v = judge_candidate(st.policy->evaluate, s["candidate_feedback"], s["production_feedback"],
                           s["candidate_heldout"], s["production_heldout"]);
  if (v.what != verdict::go)
    return end_round(self, "rejected", v.why);
  record_decision(self, {{"decision", "accepted"}, {"why", v.why}, {"scores", s}});
  auto fail = round_failed(self, "publishing the candidate");
  // The candidate model, its data set and the registry, one after the other.
  lookup(
      self, r.task,
      [self, fail](caf::actor model) {
        lookup(
            self, self->state.round->tuned_dataset,
            [self, model, fail](caf::actor ds) {
              lookup(
                  self, self->state.policy->registry,
                  [self, model, ds, fail](caf::actor reg) {
                    publish_candidate(self, model, ds, reg, fail);
                  },
                  fail);
            },
            fail);
      },
      fail);
}

/// The fine-tuning task: production's weights trained on the tuned data set.
task_spec fine_tune_task(const analyst_state& st) {
  const auto& r = *st.round;
  const auto& ft = st.policy->finetune;
  task_spec t;
  t.name = r.task;
  t.owner = "feedback-loop";
  t.detail = {{"spec", ft.spec},
              {"dataset", r.tuned_dataset},
              {"init", (r.dir / "base.pt").string()},
              {"fine_tune", "full"},
              {"checkpoint", (r.dir / "candidate.pt").string()},
              {"set.max_steps", std::to_string(ft.steps)},
              {"set.eval_every", std::to_string(std::max<int64_t>(ft.steps / 2, 1))}};
  if (ft.lr > 0)
    t.detail["set.lr"] = std::to_string(ft.lr);
  return t;
}

/// Production's weights in a model actor of their own, to compare the candidate with.
void compare_with_production(analyst_self self, const fail_fn& fail) {
  auto& st = self->state;
  auto& r = *st.round;
  auto nm = caf::actor_cast<node_manager_actor>(st.cfg.manager);
  const auto name = r.task + "-production";
  spawn_request req{"", "model", name, {{"spec", st.policy->finetune.spec}}};
  self->request(nm, call_timeout, stop_atom::value, name).then([](bool) {}, [](caf::error&) {});
  self->request(nm, call_timeout, spawn_atom::value, req)
      .then(
          [self, fail](actor_entry& e) {
            auto prod = e.handle;
            auto path = (self->state.round->dir / "base.pt").string();
            self->request(caf::actor_cast<model_actor>(prod), long_timeout, load_atom::value, path)
                .then(
                    [self, prod, fail](model_info&) {
                      lookup(
                          self, self->state.round->task,
                          [self, prod](caf::actor cand) { evaluate(self, cand, prod); }, fail);
                    },
                    [fail](caf::error& err) { fail(err); });
          },
          [fail](caf::error& err) { fail(err); });
}

/// Waits for the fine-tuning task within the policy's limit; a task past it is cancelled.
void await_fine_tune(analyst_self self, scheduler_actor sched, uint64_t id, const fail_fn& fail) {
  const auto limit =
      std::chrono::seconds(static_cast<int64_t>(self->state.policy->finetune.timeout_s));
  self->request(sched, limit, wait_atom::value, id, caf::actor{})
      .then(
          [self, fail](task_status& ts) {
            if (ts.state != "done")
              return fail(make_llmos_error(error_code::kernel_failed,
                                           "task " + ts.name + " " + ts.state + ": " + ts.error));
            compare_with_production(self, fail);
          },
          [self, sched, id, fail](caf::error& err) {
            // Timed out (or the scheduler went): the task must not run on.
            self->request(sched, call_timeout, cancel_atom::value, id)
                .then([](task_status&) {}, [](caf::error&) {});
            fail(err);
          });
}

/// Fine-tunes production's weights on the tuned data set through the scheduler.
void fine_tune(analyst_self self) {
  auto& st = self->state;
  if (!enter(*st.round, round_stage::training))
    return;
  auto t = fine_tune_task(st);
  auto fail = round_failed(self, "fine-tune");
  lookup(
      self, st.policy->scheduler,
      [self, t, fail](caf::actor h) {
        auto sched = caf::actor_cast<scheduler_actor>(h);
        self->request(sched, call_timeout, submit_atom::value, t)
            .then([self, sched, fail](uint64_t id) { await_fine_tune(self, sched, id, fail); },
                  [fail](caf::error& err) { fail(err); });
      },
      fail);
}

/// Writes the round's inputs and builds its two data sets, then fine-tunes.
void prepare(analyst_self self, model_package pkg, std::vector<data_record> original) {
  auto& st = self->state;
  auto& r = *st.round;
  auto fail = round_failed(self, "preparing the data");
  std::error_code ec;
  fs::create_directories(r.dir, ec);
  auto spec = model::parse_model_spec(pkg.spec, st.policy->model);
  if (!spec)
    return fail(spec.error());
  r.language = model::is_language_model(spec->architecture);
  std::string orig, train, held;
  for (const auto& rec : original)
    if (!rec.augmented && rec.split != "test")
      orig += jsonl_line(rec.id, rec.text, rec.label);
  uint64_t n_train = 0, n_held = 0;
  for (const auto& l : st.labelled) {
    if (l.model != st.policy->model)
      continue;
    if (split_for_holdout(l.request_id, st.policy->finetune.holdout) == "eval") {
      held += jsonl_line(l.request_id, l.text, l.label);
      ++n_held;
    } else {
      for (uint32_t k = 0; k < st.policy->finetune.feedback_weight; ++k)
        train += jsonl_line(l.request_id + "~" + std::to_string(k), l.text, l.label);
      ++n_train;
    }
  }
  if (n_held < 10 || n_train < 10)
    return fail(make_llmos_error(error_code::bad_params,
                                 std::to_string(n_train) + " labelled records to train on and " +
                                     std::to_string(n_held) +
                                     " held out: at least 10 of each are needed"));
  r.labelled_used = n_train;
  for (auto err : {write_file(r.dir / "base.pt", pkg.weights),
                   write_file(r.dir / "tokenizer.bin", pkg.tokenizer),
                   write_file(r.dir / "original.jsonl", orig),
                   write_file(r.dir / "feedback-train.jsonl", train),
                   write_file(r.dir / "feedback-heldout.jsonl", held)})
    if (err)
      return fail(err);
  const auto max_length = static_cast<uint32_t>(spec->max_length);
  auto tuned = pipeline_text(
      r.tuned_dataset, r.dir,
      {{"original", r.dir / "original.jsonl"}, {"feedback", r.dir / "feedback-train.jsonl"}},
      "{train: 0.9, validation: 0.1, test: 0.0, seed: 7}", max_length, !r.language);
  auto eval =
      pipeline_text(r.eval_dataset, r.dir, {{"feedback", r.dir / "feedback-heldout.jsonl"}},
                    "{train: 0.0, validation: 0.0, test: 1.0, seed: 7}", max_length, !r.language);
  for (auto err :
       {write_file(r.dir / "tuned.yaml", tuned), write_file(r.dir / "heldout.yaml", eval)})
    if (err)
      return fail(err);
  build_dataset(
      self, r.tuned_dataset, r.dir / "tuned.yaml",
      [self, fail](caf::actor) {
        build_dataset(
            self, self->state.round->eval_dataset, self->state.round->dir / "heldout.yaml",
            [self](caf::actor) { fine_tune(self); }, fail);
      },
      fail);
}

void start_round(analyst_self self, uint32_t production, const std::string& reason) {
  auto& st = self->state;
  const auto total = st.analysis.corrections_total(st.policy->model);
  loop_round r;
  r.number = ++st.rounds;
  r.reason = reason;
  r.started = wall_now();
  r.production = production;
  r.dir = st.cfg.root / "rounds" / std::to_string(r.number);
  const auto& m = st.policy->model;
  r.task = m + "-ft" + std::to_string(r.number);
  r.base_dataset = st.policy->finetune.dataset;
  r.tuned_dataset = m + "-tuned" + std::to_string(r.number);
  r.eval_dataset = m + "-heldout" + std::to_string(r.number);
  st.round = std::move(r);
  st.corrections_mark = total;
  record_decision(self, {{"decision", "trigger"},
                         {"why", reason},
                         {"production", production},
                         {"corrections_mark", total}});
  auto fail = round_failed(self, "fetching production");
  lookup(
      self, st.policy->registry,
      [self, production, fail](caf::actor reg) {
        self->request(caf::actor_cast<registry_actor>(reg), long_timeout, fetch_atom::value,
                      self->state.policy->model, production)
            .then(
                [self, fail](model_package& pkg) {
                  lookup(
                      self, self->state.round->base_dataset,
                      [self, pkg, fail](caf::actor ds) {
                        self->request(caf::actor_cast<dataset_actor>(ds), long_timeout,
                                      sample_atom::value, std::string{}, uint32_t{10000000},
                                      uint64_t{1})
                            .then(
                                [self, pkg](std::vector<data_record>& recs) {
                                  prepare(self, pkg, std::move(recs));
                                },
                                [fail](caf::error& err) { fail(err); });
                      },
                      fail);
                },
                [fail](caf::error& err) { fail(err); });
      },
      fail);
}

/// The canary has had its traffic: promote (move the alias) or roll back (end the canary).
void judge(analyst_self self) {
  auto& st = self->state;
  auto& r = *st.round;
  const auto [cl, cc] = outcomes(st.analysis.find(st.policy->model, r.candidate), r.language);
  const auto [pl_all, pc_all] =
      outcomes(st.analysis.find(st.policy->model, r.production), r.language);
  const double ca = cl > 0 ? static_cast<double>(cc) / cl : 0.0;
  const uint64_t pl = pl_all - r.prod_labelled0;
  const double pa = pl > 0 ? static_cast<double>(pc_all - r.prod_correct0) / pl : 0.0;
  auto v =
      judge_canary(st.policy->canary, cl, ca, pl, pa, wall_now() - r.canary_started, r.language);
  if (v.what == verdict::wait)
    return;
  r.scores["canary_accuracy"] = ca;
  r.scores["canary_labelled"] = cl;
  r.scores["production_accuracy_meanwhile"] = pa;
  r.scores["production_labelled_meanwhile"] = pl;
  if (!enter(r, round_stage::deciding))
    return;
  const bool promote = v.what == verdict::go;
  auto fail = round_failed(self, promote ? "promoting" : "rolling back");
  if (promote) {
    lookup(
        self, st.policy->registry,
        [self, why = v.why, fail](caf::actor reg) {
          auto& st = self->state;
          self->request(caf::actor_cast<registry_actor>(reg), call_timeout, alias_atom::value,
                        st.policy->model, st.policy->alias, st.round->candidate)
              .then([self, why](model_version&) { end_round(self, "promoted", why); },
                    [fail](caf::error& err) { fail(err); });
        },
        fail);
    return;
  }
  lookup(
      self, st.policy->server,
      [self, why = v.why, fail](caf::actor server) {
        self->request(caf::actor_cast<server_actor>(server), call_timeout, canary_atom::value,
                      std::string{}, 0.0)
            .then([self, why](server_status&) { end_round(self, "rolled back", why); },
                  [fail](caf::error& err) { fail(err); });
      },
      fail);
}

} // namespace

void advance_loop(analyst_self self) {
  auto& st = self->state;
  if (!st.policy || !st.cfg.manager)
    return;
  // A round's other steps end by their replies or their requests' timeouts (the fine-tune's
  // is finetune.timeout_s): ending a round from here would leave replies in flight that a later
  // round could mistake for its own.
  if (st.round) {
    if (st.round->progress.stage() == round_stage::canary)
      judge(self);
    return;
  }
  if (wall_now() < st.cooldown_until || st.resolving)
    return;
  st.resolving = true;
  auto done = [self] { self->state.resolving = false; };
  lookup(
      self, st.policy->registry,
      [self, done](caf::actor reg) {
        auto& st = self->state;
        self->request(caf::actor_cast<registry_actor>(reg), call_timeout, resolve_atom::value,
                      st.policy->model, st.policy->alias)
            .then(
                [self, done](model_version& v) {
                  done();
                  auto& st = self->state;
                  if (st.round)
                    return;
                  trigger_input in;
                  in.corrections_since_round =
                      st.analysis.corrections_total(st.policy->model) - st.corrections_mark;
                  if (const auto* s = st.analysis.find(st.policy->model, v.version)) {
                    in.labelled = s->labelled();
                    in.window_accuracy = s->window_accuracy();
                    in.input_psi = std::max(s->input_psi_length(), s->input_psi_tokens());
                    // A language model's answers are rated, not labelled.
                    const auto rated = s->thumbs_up() + s->thumbs_down();
                    if (s->labelled() == 0 && rated > 0) {
                      in.ratings = true;
                      in.labelled = rated;
                      in.window_accuracy = static_cast<double>(s->thumbs_up()) / rated;
                    }
                  }
                  if (auto why = should_trigger(st.policy->triggers, in))
                    start_round(self, v.version, *why);
                },
                [done](caf::error&) { done(); });
      },
      [done](caf::error) { done(); });
}

} // namespace llmos::feedback
