#include "feedback/feedback_actor.hpp"

#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <prometheus/gauge.h>

#include "feedback/feedback_state.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/metrics.hpp"
#include "llmos/runtime/state_dir.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;
using feedback::analyst_self;
using feedback::analyst_state;

/// Window accuracy and drift per version as Prometheus gauges: alert rules (the monitor) fire on
/// them like on any other metric.
struct analyst_gauges {
  prometheus::Family<prometheus::Gauge>& accuracy =
      gauge_family("llmos_feedback_window_accuracy",
                   "accuracy on labelled feedback over the analyst's sliding window");
  prometheus::Family<prometheus::Gauge>& drift =
      gauge_family("llmos_feedback_input_psi",
                   "population stability index of the inputs (max of length and token PSI)");
  prometheus::Family<prometheus::Gauge>& labelled =
      gauge_family("llmos_feedback_labelled", "labelled feedback records per model version");
};

analyst_gauges& gauges() {
  static analyst_gauges g;
  return g;
}

void update_gauges(analyst_state& st) {
  for (const auto& model : st.analysis.models())
    for (const auto* v : st.analysis.of_model(model)) {
      std::map<std::string, std::string> labels{{"model", model},
                                                {"version", std::to_string(v->version())}};
      gauges().accuracy.Add(labels).Set(v->window_accuracy());
      gauges().drift.Add(labels).Set(std::max(v->input_psi_length(), v->input_psi_tokens()));
      gauges().labelled.Add(labels).Set(static_cast<double>(v->labelled()));
    }
}

/// Applies one logged payload: a feedback record, or an array of served requests.
caf::expected<nlohmann::json> apply(analyst_state& st, const nlohmann::json& j,
                                    const std::string& where) {
  if (j.is_array()) {
    for (const auto& item : j) {
      auto r = feedback::served_from_json(item, where);
      if (!r)
        return std::move(r.error());
      st.analysis.on_request(*r);
    }
    return nlohmann::json{{"requests", j.size()}};
  }
  auto f = feedback::feedback_from_json(j, where);
  if (!f)
    return std::move(f.error());
  auto joined = st.analysis.on_feedback(*f);
  if (!joined)
    return std::move(joined.error());
  if (!f->label.empty() && !joined->label.empty())
    st.labelled.push_back(
        {f->request_id, joined->model, joined->version, joined->text, f->label, joined->label});
  // A language model learns from the completion a user preferred, or from one they liked.
  if (!joined->completion.empty() && (!f->completion.empty() || f->rating > 0))
    st.labelled.push_back(
        {f->request_id, joined->model, joined->version,
         joined->text + (f->completion.empty() ? joined->completion : f->completion), "",
         joined->completion});
  return nlohmann::json{{"model", joined->model}, {"version", joined->version}};
}

/// Answers the feedback acknowledgements whose records are now on disk.
void deliver_synced(analyst_state& st) {
  const uint64_t durable = st.log->records() - st.log->unsynced();
  auto& acks = st.unsynced_acks;
  auto keep = acks.begin();
  for (auto& [seq, promise] : acks) {
    if (seq < durable)
      promise.deliver(nlohmann::json{{"sequence", seq}, {"durable", true}}.dump());
    else
      *keep++ = std::pair{seq, promise}; // a copy: keep may be this very element
  }
  acks.erase(keep, acks.end());
}

caf::result<std::string> on_feedback(analyst_self self, const std::string& text) {
  auto& st = self->state;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_llmos_error(error_code::bad_params,
                            "feedback '" + st.cfg.name + "': the record is not a JSON object");
  if (!j.contains("time"))
    j["time"] = feedback::wall_now();
  j["kind"] = "feedback";
  // Joined and checked before it is logged: a refused record never enters the log.
  auto applied = apply(st, j, "feedback '" + st.cfg.name + "'");
  if (!applied)
    return std::move(applied.error());
  auto seq = st.log->append(j.dump());
  if (!seq)
    return std::move(seq.error());
  auto ack = *applied;
  ack["sequence"] = *seq;
  if (st.log->unsynced() == 0) {
    deliver_synced(st); // a batch just reached the disk: its earlier records are durable too
    ack["durable"] = true;
    return ack.dump();
  }
  if (st.cfg.log.policy == feedback::fsync_policy::none) {
    ack["durable"] = false; // in the page cache: survives kill -9, not a power cut
    return ack.dump();
  }
  // Batched: answered once the batch is on disk (at the latest on the next tick).
  auto promise = self->make_response_promise<std::string>();
  st.unsynced_acks.emplace_back(*seq, promise);
  return promise;
}

caf::error open_logs(analyst_state& st) {
  std::error_code ec;
  fs::create_directories(st.cfg.root, ec);
  feedback::recovery_report report;
  uint64_t bad = 0;
  auto log = feedback::record_log::open(
      (st.cfg.root / "feedback.log").string(), st.cfg.log,
      [&st, &bad](std::string_view payload) {
        auto j = nlohmann::json::parse(payload, nullptr, false);
        if (j.is_discarded() || !apply(st, j, "feedback log"))
          ++bad; // checksummed, so written by us: an unknown request's feedback after eviction
      },
      &report);
  if (!log)
    return log.error();
  if (!report.warning.empty())
    log_warning("feedback '" + st.cfg.name + "': " + report.warning);
  if (bad > 0)
    log_warning("feedback '" + st.cfg.name + "': " + std::to_string(bad) +
                " logged records could not be applied on replay");
  st.log.emplace(std::move(*log));
  feedback::recovery_report hreport;
  auto history =
      feedback::record_log::open((st.cfg.root / "history.log").string(), feedback::log_options{},
                                 [&st](std::string_view payload) {
                                   auto j = nlohmann::json::parse(payload, nullptr, false);
                                   if (j.is_discarded())
                                     return;
                                   st.history.push_back(j);
                                   st.rounds = std::max<uint32_t>(st.rounds, j.value("round", 0u));
                                   if (j.contains("corrections_mark"))
                                     st.corrections_mark = j["corrections_mark"].get<uint64_t>();
                                 },
                                 &hreport);
  if (!history)
    return history.error();
  if (!hreport.warning.empty())
    log_warning("feedback '" + st.cfg.name + "': " + hreport.warning);
  st.history_log.emplace(std::move(*history));
  log_info("feedback '" + st.cfg.name + "': " + std::to_string(st.log->records()) +
           " records and " + std::to_string(st.history.size()) + " decisions replayed from " +
           st.cfg.root.string());
  return caf::none;
}

nlohmann::json status_json(analyst_state& st) {
  nlohmann::json loop{{"enabled", st.policy.has_value()},
                      {"rounds", st.rounds},
                      {"corrections_mark", st.corrections_mark}};
  if (st.round)
    loop["round"] = {
        {"number", st.round->number},       {"stage", to_string(st.round->progress.stage())},
        {"reason", st.round->reason},       {"production", st.round->production},
        {"candidate", st.round->candidate}, {"scores", st.round->scores}};
  return {{"analysis", st.analysis.to_json()},
          {"loop", loop},
          {"log",
           {{"path", st.log->path()},
            {"records", st.log->records()},
            {"fsync", feedback::to_string(st.cfg.log.policy)}}},
          {"labelled", st.labelled.size()}};
}

feedback_actor::behavior_type behavior(analyst_self self, feedback::analyst_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  // The policy's window (when there is one) is the one its triggers are written for.
  st.analysis = feedback::feedback_analysis{
      st.cfg.policy ? static_cast<std::size_t>(st.cfg.policy->triggers.window) : st.cfg.window};
  // A log that cannot be opened (unwritable, held by another analyst) ends the actor at once;
  // the handlers below never run then.
  if (auto err = open_logs(st)) {
    log_error("feedback '" + st.cfg.name + "': " + describe(err));
    self->quit(err);
  } else {
    st.policy = st.cfg.policy;
    update_gauges(st);
    self->send(self, tick_atom::value);
  }
  return {
      [self](feedback_atom, const std::string& text) { return on_feedback(self, text); },
      [self](log_atom, const std::string& text) {
        auto& st = self->state;
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_array()) {
          log_warning("feedback '" + st.cfg.name + "': a request log that is not a JSON array");
          return;
        }
        if (auto applied = apply(st, j, "request log"); !applied) {
          log_warning("feedback '" + st.cfg.name + "': " + describe(applied.error()));
          return;
        }
        if (auto seq = st.log->append(j.dump()); !seq)
          log_warning("feedback '" + st.cfg.name + "': " + describe(seq.error()));
      },
      [self](status_atom) { return status_json(self->state).dump(); },
      [self](history_atom) { return self->state.history.dump(); },
      [self](tick_atom) {
        auto& st = self->state;
        if (st.cfg.log.policy == feedback::fsync_policy::none) {
          // left to the operating system
        } else if (auto err = st.log->sync()) {
          // The log refuses appends from now on: the records waiting for this sync may be lost.
          log_warning("feedback '" + st.cfg.name + "': " + describe(err));
          for (auto& [seq, promise] : st.unsynced_acks)
            promise.deliver(err);
          st.unsynced_acks.clear();
        }
        deliver_synced(st);
        update_gauges(st);
        feedback::advance_loop(self);
        self->delayed_send(self, std::chrono::milliseconds(st.cfg.tick_ms), tick_atom::value);
      },
  };
}

} // namespace

namespace feedback {

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void record_decision(analyst_self self, nlohmann::json decision) {
  auto& st = self->state;
  decision["time"] = wall_now();
  if (st.round)
    decision["round"] = st.round->number;
  log_info("feedback '" + st.cfg.name + "': " + decision.value("decision", std::string{}) + ": " +
           decision.value("why", std::string{}));
  if (auto seq = st.history_log->append(decision.dump()); !seq)
    log_warning("feedback '" + st.cfg.name + "': history: " + describe(seq.error()));
  st.history.push_back(std::move(decision));
}

} // namespace feedback

namespace {

/// The keys a topology may give a feedback actor.
const std::vector<config_field> feedback_fields = {
    optional_key("root", config_type::path, "",
                 "folder of the log, the history and the loop's rounds; default "
                 ".cache/state/feedback/NAME"),
    optional_key("fsync", config_type::string, "every", "when the log is fsynced",
                 {"every", "batched", "none"}),
    optional_key("batch_records", config_type::integer, "64", "records per fsync when batched"),
    optional_key("policy", config_type::path, "", "loop policy YAML (\"\" = analysis only)"),
    optional_key("window", config_type::integer, "200", "labelled records of the sliding window"),
    optional_key("tick_ms", config_type::integer, "1000", "how often the loop is advanced"),
};

caf::expected<caf::actor> spawn_feedback(spawn_context& ctx) {
  feedback::analyst_config cfg;
  cfg.name = ctx.name;
  cfg.root = state_root(ctx.config["root"], fs::path{"feedback"} / ctx.name);
  std::error_code ec;
  fs::create_directories(cfg.root, ec);
  if (ec)
    return make_llmos_error(error_code::bad_config, "feedback '" + ctx.name + "': root " +
                                                        cfg.root.string() + ": " + ec.message());
  auto policy = feedback::parse_fsync_policy(ctx.config["fsync"]);
  if (!policy)
    return std::move(policy.error());
  cfg.log.policy = *policy;
  auto batch = config_integer(ctx.config, "batch_records", 1, 1000000);
  auto window = config_integer(ctx.config, "window", 1, 1000000);
  auto tick = config_integer(ctx.config, "tick_ms", 10, 600000);
  for (auto* v : {&batch, &window, &tick})
    if (!*v)
      return make_llmos_error(error_code::bad_config,
                              "feedback '" + ctx.name + "': " + describe(v->error()));
  cfg.log.batch_records = static_cast<uint32_t>(*batch);
  cfg.window = static_cast<std::size_t>(*window);
  cfg.tick_ms = static_cast<uint32_t>(*tick);
  if (!ctx.config["policy"].empty()) {
    auto policy = feedback::load_loop_policy(ctx.config["policy"]);
    if (!policy)
      return std::move(policy.error());
    cfg.policy = std::move(*policy);
  }
  cfg.manager = ctx.manager;
  return caf::actor_cast<caf::actor>(ctx.system.spawn(behavior, std::move(cfg)));
}

} // namespace

actor_kind feedback_kind() {
  return {"feedback",
          "feedback analyst: durable feedback log, analysis per version, the retrain loop",
          feedback_fields, spawn_feedback};
}

} // namespace llmos
