// The loop, one round at a time: a trigger (corrections, accuracy, drift) starts a round; the
// round writes the original training data and the labelled feedback next to the production
// weights, has two data sets built from them with production's own tokenizer, fine-tunes
// production's weights on them through the scheduler, evaluates candidate and production on the
// original held-out data and on the held-out feedback, runs an accepted candidate as a canary
// and promotes it (the registry alias moves; the server follows) or rolls it back. Every step
// that decides something is written to the history with its numbers.
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "feedback/core/loop_decisions.hpp"
#include "feedback/loop_steps.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/find_actor.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/serving.hpp"
#include "llmos/runtime/log.hpp"

namespace llmos::feedback {
namespace loop {

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

void end_round(analyst_self self, const std::string& decision, const std::string& why,
               nlohmann::json extra) {
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
                           st.round->original_dataset, st.round->task + "-production"})
    if (!name.empty())
      self->request(nm, call_timeout, stop_atom::value, name).then([](bool) {}, [](caf::error&) {});
  st.round.reset();
  st.cooldown_until = wall_now() + st.policy->triggers.cooldown_s;
}

fail_fn round_failed(analyst_self self, const std::string& step) {
  const auto number = self->state.round ? self->state.round->number : 0;
  return [self, step, number](caf::error err) {
    if (self->state.round && self->state.round->number == number)
      end_round(self, "failed", step + ": " + describe(err));
  };
}

std::pair<uint64_t, uint64_t> outcomes(const version_stats* v, bool language) {
  if (!v)
    return {0, 0};
  if (language)
    return {v->thumbs_up() + v->thumbs_down(), v->thumbs_up()};
  return {v->labelled(), v->labelled() - v->corrections()};
}

namespace {

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
  r.original_dataset = m + "-original" + std::to_string(r.number);
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
} // namespace loop

void advance_loop(analyst_self self) {
  using namespace loop;
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
