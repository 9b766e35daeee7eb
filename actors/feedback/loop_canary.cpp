// The fine-tuned candidate judged against production on the held-out data and feedback; an
// accepted candidate is published to the registry with the round's lineage and goes to the
// server as a canary, which loop_runner.cpp's judge() watches from then on.
#include <cmath>
#include <memory>
#include <tuple>

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "feedback/core/loop_decisions.hpp"
#include "feedback/loop_steps.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/model_publisher.hpp"
#include "llmos/messages/serving.hpp"

namespace llmos::feedback::loop {
namespace {

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

} // namespace

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
      self, r.original_dataset,
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

} // namespace llmos::feedback::loop
