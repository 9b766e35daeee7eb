#include "tuner/core/bracket_searcher.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "llmos/messages/error.hpp"

namespace llmos::tuner {

namespace {

constexpr int state_version = 1;
const std::vector<std::string> state_words{"running", "done", "failed"};

nlohmann::json shape_json(const bracket_shape& shape) {
  return {{"first_rung", shape.first_rung}, {"resources", shape.resources}};
}

[[noreturn]] void damaged(const std::string& what) {
  throw std::runtime_error(what);
}

} // namespace

searcher_plan sampled_plan(const study_spec& spec, algorithm_kind algorithm,
                           std::vector<bracket_shape> brackets) {
  searcher_plan plan;
  plan.algorithm = algorithm;
  plan.mode = spec.mode;
  plan.eta = spec.reduction;
  plan.brackets = std::move(brackets);
  plan.max_trials = spec.trials;
  plan.params_for = [space = spec.space, seed = spec.seed](uint64_t n) {
    return sample_nth(space, seed, n);
  };
  return plan;
}

bracket_searcher::bracket_searcher(searcher_plan plan) : plan_(std::move(plan)) {
  for (const auto& shape : plan_.brackets)
    brackets_.emplace_back(shape, plan_.eta, plan_.mode);
}

trial_job bracket_searcher::hand_out(uint64_t trial, int rung, double from_resource) {
  auto& record = trials_.at(trial);
  const double resource = brackets_[record.bracket].resource_at(rung);
  record.jobs[rung] = job_record{resource, from_resource, job_state::running, 0};
  ++running_;
  compute_used_ += resource - from_resource;
  return trial_job{trial, record.params, rung, resource, from_resource};
}

std::optional<trial_job> bracket_searcher::next_job() {
  if (!reissue_.empty()) {
    // Jobs that were running when the study was saved: their results never came, and their
    // budget is already counted in compute_used.
    const auto [trial, rung] = *reissue_.begin();
    reissue_.erase(reissue_.begin());
    ++running_;
    const auto& record = trials_.at(trial);
    const auto& job = record.jobs.at(rung);
    return trial_job{trial, record.params, rung, job.resource, job.from_resource};
  }
  for (auto& b : brackets_)
    if (auto promoted = b.promote()) {
      const auto [trial, rung] = *promoted;
      return hand_out(trial, rung, b.resource_at(rung - 1));
    }
  if (trials_.size() >= plan_.max_trials)
    return std::nullopt;
  const uint64_t n = trials_.size();
  const uint64_t id = n + 1;
  const auto which = static_cast<std::size_t>(n % brackets_.size());
  trials_[id] = trial_record{plan_.params_for(n), which, {}};
  return hand_out(id, brackets_[which].first_rung(), 0);
}

bracket_searcher::job_record* bracket_searcher::settle(uint64_t trial, int rung) {
  auto t = trials_.find(trial);
  if (t == trials_.end())
    return nullptr;
  auto j = t->second.jobs.find(rung);
  if (j == t->second.jobs.end() || j->second.state != job_state::running)
    return nullptr;
  // A result from before a restart may still arrive for a job waiting to be handed out again.
  if (reissue_.erase({trial, rung}) == 0)
    --running_;
  return &j->second;
}

void bracket_searcher::report(uint64_t trial, int rung, double value) {
  if (!std::isfinite(value)) {
    // A diverged run (NaN loss) must never be ranked, and JSON cannot hold the value anyway.
    fail(trial, rung);
    return;
  }
  auto* job = settle(trial, rung);
  if (job == nullptr)
    return;
  job->state = job_state::done;
  job->value = value;
  brackets_[trials_.at(trial).bracket].record(trial, rung, value);
}

void bracket_searcher::fail(uint64_t trial, int rung) {
  // The bracket never sees the failure: only recorded results can be ranked and promoted.
  if (auto* job = settle(trial, rung))
    job->state = job_state::failed;
}

bool bracket_searcher::finished() const {
  if (!reissue_.empty() || running_ != 0 || trials_.size() < plan_.max_trials)
    return false;
  for (const auto& b : brackets_)
    if (b.can_promote())
      return false;
  return true;
}

std::optional<std::pair<uint64_t, double>> bracket_searcher::best() const {
  int top = -1;
  for (const auto& b : brackets_)
    top = std::max(top, b.top_rung());
  for (int rung = top; rung >= 0; --rung) {
    std::optional<std::pair<uint64_t, double>> winner;
    for (const auto& b : brackets_) {
      if (!b.has_rung(rung))
        continue;
      const auto ranked = b.ranking(rung);
      if (ranked.empty())
        continue;
      const auto& [trial, value] = ranked.front();
      if (!winner || is_better(plan_.mode, value, winner->second) ||
          (value == winner->second && trial < winner->first))
        winner = ranked.front();
    }
    if (winner)
      return winner;
  }
  return std::nullopt;
}

std::optional<uint64_t> bracket_searcher::best_trial() const {
  auto b = best();
  return b ? std::optional<uint64_t>{b->first} : std::nullopt;
}

std::optional<double> bracket_searcher::best_value() const {
  auto b = best();
  return b ? std::optional<double>{b->second} : std::nullopt;
}

std::optional<assignment> bracket_searcher::params_of(uint64_t trial) const {
  auto t = trials_.find(trial);
  return t == trials_.end() ? std::nullopt : std::optional<assignment>{t->second.params};
}

nlohmann::json bracket_searcher::to_json() const {
  auto brackets = nlohmann::json::array();
  for (const auto& shape : plan_.brackets)
    brackets.push_back(shape_json(shape));
  auto trials = nlohmann::json::array();
  for (const auto& [id, record] : trials_) {
    auto jobs = nlohmann::json::array();
    for (const auto& [rung, job] : record.jobs) {
      nlohmann::json j{{"rung", rung},
                       {"resource", job.resource},
                       {"from_resource", job.from_resource},
                       {"state", state_words[static_cast<std::size_t>(job.state)]}};
      if (job.state == job_state::done)
        j["value"] = job.value;
      jobs.push_back(std::move(j));
    }
    trials.push_back(
        {{"id", id}, {"bracket", record.bracket}, {"params", record.params}, {"jobs", jobs}});
  }
  nlohmann::json best_json = nullptr;
  if (auto b = best())
    best_json = {{"trial", b->first}, {"value", b->second}};
  // Counts and the best trial are for people and dashboards; restore recomputes them.
  return {{"version", state_version},
          {"algorithm", to_string(plan_.algorithm)},
          {"mode", to_string(plan_.mode)},
          {"reduction", plan_.eta},
          {"brackets", brackets},
          {"trials_started", trials_.size()},
          {"compute_used", compute_used_},
          {"best", best_json},
          {"trials", trials}};
}

void bracket_searcher::restore_trial(const nlohmann::json& t, uint64_t expected_id) {
  const auto id = t.at("id").get<uint64_t>();
  // New trials take the next id after the count, so saved ids must be exactly 1..n.
  if (id != expected_id)
    damaged("trial ids must run 1, 2, 3, ...; found " + std::to_string(id) + " where " +
            std::to_string(expected_id) + " belongs");
  const auto which = t.at("bracket").get<std::size_t>();
  if (which >= brackets_.size())
    damaged("trial " + std::to_string(id) + " is in bracket " + std::to_string(which) +
            ", which does not exist");
  auto& b = brackets_[which];
  auto& record = trials_[id];
  record.params = t.at("params").get<assignment>();
  record.bracket = which;
  for (const auto& j : t.at("jobs")) {
    const int rung = j.at("rung").get<int>();
    if (!b.has_rung(rung))
      damaged("trial " + std::to_string(id) + " has a job at rung " + std::to_string(rung) +
              ", which its bracket does not have");
    job_record job;
    job.resource = b.resource_at(rung);
    job.from_resource = j.at("from_resource").get<double>();
    const auto word = j.at("state").get<std::string>();
    const auto at = std::find(state_words.begin(), state_words.end(), word);
    if (at == state_words.end())
      damaged("trial " + std::to_string(id) + " has a job in state '" + word + "'");
    job.state = static_cast<job_state>(at - state_words.begin());
    compute_used_ += job.resource - job.from_resource;
    if (rung > b.first_rung())
      b.mark_promoted(id, rung - 1);
    if (job.state == job_state::done) {
      job.value = j.at("value").get<double>();
      b.record(id, rung, job.value);
    } else if (job.state == job_state::running) {
      reissue_.insert({id, rung});
    }
    record.jobs[rung] = job;
  }
}

caf::error bracket_searcher::restore(const nlohmann::json& state) {
  try {
    if (state.at("version").get<int>() != state_version)
      damaged("version " + state.at("version").dump() + " is not " + std::to_string(state_version));
    const auto algorithm = state.at("algorithm").get<std::string>();
    if (algorithm != to_string(plan_.algorithm))
      return make_llmos_error(error_code::bad_config,
                              "the saved study ran algorithm " + algorithm +
                                  ", the study file now says " + to_string(plan_.algorithm) +
                                  "; restore the file's algorithm or start a new study");
    auto shapes = nlohmann::json::array();
    for (const auto& shape : plan_.brackets)
      shapes.push_back(shape_json(shape));
    if (state.at("brackets") != shapes || state.at("mode") != to_string(plan_.mode) ||
        state.at("reduction") != plan_.eta)
      return make_llmos_error(
          error_code::bad_config,
          "the saved study ran the budget ladder " + state.at("brackets").dump() + " (mode " +
              state.at("mode").dump() + ", reduction " + state.at("reduction").dump() +
              "), the study file now gives " + shapes.dump() + " (mode \"" + to_string(plan_.mode) +
              "\", reduction " + std::to_string(plan_.eta) +
              "); min_resource, max_resource, reduction or mode changed since it was saved: "
              "restore them or start a new study");
    uint64_t expected_id = 1;
    for (const auto& t : state.at("trials"))
      restore_trial(t, expected_id++);
    return caf::none;
  } catch (const std::exception& e) {
    return make_llmos_error(error_code::bad_config,
                            std::string("the saved study state is damaged: ") + e.what());
  }
}

} // namespace llmos::tuner
