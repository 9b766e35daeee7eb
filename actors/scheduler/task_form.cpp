#include "scheduler/task_form.hpp"

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"
#include "llmos/runtime/yaml_fields.hpp"
#include "model/core/model_spec.hpp"

namespace llmos {

std::map<std::string, std::string>
spec_overrides(const std::map<std::string, std::string>& detail) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : detail)
    if (k.rfind("set.", 0) == 0)
      out[k.substr(4)] = v;
  return out;
}

namespace {

/// The fields both kinds share.
scheduler::task_request common_request(const task_spec& spec, const std::string& kind) {
  scheduler::task_request r;
  r.name = spec.name;
  r.owner = spec.owner.empty() ? "default" : spec.owner;
  r.priority = spec.priority;
  r.replicas = spec.replicas;
  r.per_replica = {spec.cpu_threads, spec.gpus, spec.gpu_memory_mb};
  r.preemptible = spec.preemptible;
  r.detail = spec.detail;
  r.detail["kind"] = kind;
  return r;
}

/// kind=ingest dataset=NAME: the data set's actor runs its pipeline once.
template <class Refuse>
caf::expected<scheduler::task_request> ingest_request(const task_spec& spec, Refuse refuse) {
  for (const auto& [k, v] : spec.detail)
    if (k != "kind" && k != "dataset")
      return refuse(k, "unknown detail key of an ingest task (known: kind, dataset)");
  if (!spec.detail.count("dataset") || spec.detail.at("dataset").empty())
    return refuse("dataset", "the data set actor to ingest is required (dataset=NAME)");
  if (spec.replicas != 1 || spec.gpus != 0)
    return refuse("replicas", "an ingest runs once, on no GPU (replicas=1 gpus=0)");
  if (spec.cpu_threads == 0 || spec.cpu_threads > 1024)
    return refuse("cpu_threads", "must be from 1 to 1024, got " + std::to_string(spec.cpu_threads));
  // A pipeline is not stopped half-way: an ingest is never preempted.
  auto r = common_request(spec, "ingest");
  r.preemptible = false;
  return r;
}

} // namespace

caf::expected<scheduler::task_request> to_task_request(const task_spec& spec) {
  auto refuse = [&](const std::string& field, const std::string& what) {
    return make_llmos_error(error_code::bad_params,
                            "task '" + spec.name + "': " + field + ": " + what);
  };
  if (!yaml_fields::is_valid_name(spec.name))
    return refuse("name",
                  "'" + spec.name + "' is not a valid actor name (letters, digits, '-', '_', '.')");
  const auto kind = spec.detail.count("kind") ? spec.detail.at("kind") : "train";
  if (kind != "train" && kind != "ingest")
    return refuse("kind", "'" + kind + "' is not a task kind this scheduler runs (train, ingest)");
  if (kind == "ingest")
    return ingest_request(spec, refuse);
  for (const auto& [k, v] : spec.detail) {
    const auto& known = task_detail_keys;
    if (k.rfind("set.", 0) != 0 && k != "result" &&
        std::find(known.begin(), known.end(), k) == known.end())
      return refuse(k, "unknown detail key (known: " + join_words(known) +
                           ", set.FIELD for spec overrides)");
  }
  if (spec.detail.count("fine_tune") && !spec.detail.count("init"))
    return refuse("fine_tune",
                  "fine-tunes the weights named by init=CHECKPOINT, and there is none");
  auto path = spec.detail.find("spec");
  if (path == spec.detail.end() || path->second.empty())
    return refuse("spec", "a model spec file is required (spec=nodes/examples/models/...)");
  auto model = model::load_model_spec(path->second);
  if (!model)
    return refuse("spec", describe(model.error()));
  auto applied = model::apply_overrides(*model, spec_overrides(spec.detail));
  if (!applied)
    return refuse("set", describe(applied.error()));
  if (!spec.detail.count("dataset") || spec.detail.at("dataset").empty())
    return refuse("dataset", "the data set actor to train from is required (dataset=NAME)");
  if (spec.replicas == 0 || spec.replicas > 64)
    return refuse("replicas", "must be from 1 to 64, got " + std::to_string(spec.replicas));
  if (spec.cpu_threads == 0 || spec.cpu_threads > 1024)
    return refuse("cpu_threads", "must be from 1 to 1024, got " + std::to_string(spec.cpu_threads));
  return common_request(spec, kind);
}

task_status to_task_status(const scheduler::task_record& t, const scheduler::cluster_state& cluster,
                           double now, const std::string& progress) {
  task_status s;
  s.id = t.id;
  s.name = t.req.name;
  s.owner = t.req.owner;
  s.state = scheduler::to_string(t.state);
  s.priority = t.req.priority;
  s.replicas = t.req.replicas;
  for (const auto& slot : t.where)
    s.nodes.push_back(cluster.nodes()[slot.node].name);
  s.attempts = t.attempts;
  s.preemptions = t.preemptions;
  s.reschedules = t.reschedules;
  s.waited_s = (t.started >= 0 ? t.started : now) - t.submitted;
  if (t.started >= 0)
    s.ran_s = (t.finished >= 0 ? t.finished : now) - t.started;
  s.progress = progress;
  s.error = t.error;
  if (t.state == scheduler::task_state::queued && t.waiting)
    s.waiting = *t.waiting;
  if (auto it = t.req.detail.find("result"); it != t.req.detail.end())
    s.result = it->second;
  s.detail = t.req.detail;
  s.detail.erase("result");
  return s;
}

} // namespace llmos
