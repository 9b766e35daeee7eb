#include "scheduler/core/job_table.hpp"

#include <algorithm>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/atomic_file.hpp"

namespace llmos::scheduler {

namespace {

nlohmann::json placement_json(const placement& where) {
  auto out = nlohmann::json::array();
  for (const auto& s : where)
    out.push_back({{"node", s.node}, {"gpus", s.gpus}});
  return out;
}

task_state state_named(const std::string& s, bool& ok) {
  for (auto st :
       {task_state::queued, task_state::starting, task_state::running, task_state::stopping,
        task_state::done, task_state::failed, task_state::cancelled})
    if (s == to_string(st))
      return st;
  ok = false;
  return task_state::queued;
}

} // namespace

nlohmann::json to_json(const task_record& t) {
  const auto& r = t.req;
  return {{"id", t.id},
          {"name", r.name},
          {"owner", r.owner},
          {"priority", r.priority},
          {"replicas", r.replicas},
          {"cpu_threads", r.per_replica.cpu_threads},
          {"gpus", r.per_replica.gpus},
          {"gpu_memory_mb", r.per_replica.gpu_memory_mb},
          {"preemptible", r.preemptible},
          {"detail", r.detail},
          {"state", to_string(t.state)},
          {"submitted", t.submitted},
          {"started", t.started},
          {"finished", t.finished},
          {"not_before", t.not_before},
          {"attempts", t.attempts},
          {"preemptions", t.preemptions},
          {"reschedules", t.reschedules},
          {"where", placement_json(t.where)},
          {"error", t.error},
          {"cancelling", t.cancelling}};
}

caf::expected<task_record> record_from_json(const nlohmann::json& j) {
  try {
    task_record t;
    t.id = j.at("id").get<uint64_t>();
    t.req.name = j.at("name").get<std::string>();
    t.req.owner = j.at("owner").get<std::string>();
    t.req.priority = j.at("priority").get<int>();
    t.req.replicas = j.at("replicas").get<uint32_t>();
    t.req.per_replica.cpu_threads = j.at("cpu_threads").get<uint32_t>();
    t.req.per_replica.gpus = j.at("gpus").get<uint32_t>();
    t.req.per_replica.gpu_memory_mb = j.at("gpu_memory_mb").get<uint64_t>();
    t.req.preemptible = j.at("preemptible").get<bool>();
    t.req.detail = j.at("detail").get<std::map<std::string, std::string>>();
    bool ok = true;
    t.state = state_named(j.at("state").get<std::string>(), ok);
    if (!ok)
      return make_llmos_error(error_code::bad_config,
                              "task " + std::to_string(t.id) + ": field 'state' is unknown");
    t.submitted = j.at("submitted").get<double>();
    t.started = j.at("started").get<double>();
    t.finished = j.at("finished").get<double>();
    t.not_before = j.at("not_before").get<double>();
    t.attempts = j.at("attempts").get<uint32_t>();
    t.preemptions = j.at("preemptions").get<uint32_t>();
    t.reschedules = j.at("reschedules").get<uint32_t>();
    for (const auto& s : j.at("where"))
      t.where.push_back(
          {s.at("node").get<std::size_t>(), s.at("gpus").get<std::vector<std::size_t>>()});
    t.error = j.at("error").get<std::string>();
    t.cancelling = j.value("cancelling", false);
    return t;
  } catch (const nlohmann::json::exception& e) {
    return make_llmos_error(error_code::bad_config, std::string{"task record: "} + e.what());
  }
}

std::string job_table_text(const task_table& tasks) {
  nlohmann::json out{{"version", 1}, {"tasks", nlohmann::json::array()}};
  std::vector<uint64_t> ids; // in id order, so the file reads like a log
  ids.reserve(tasks.size());
  for (const auto& [id, t] : tasks)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (auto id : ids)
    out["tasks"].push_back(to_json(tasks.at(id)));
  return out.dump(1);
}

caf::expected<void> write_job_table(const std::filesystem::path& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    return make_llmos_error(error_code::io_failed,
                            "cannot create " + path.parent_path().string() + ": " + ec.message());
  auto tmp = path;
  tmp += ".tmp";
  return replace_file_atomically(path, tmp, text);
}

caf::expected<std::vector<task_record>> load_job_table(const std::filesystem::path& path) {
  std::vector<task_record> out;
  if (!std::filesystem::exists(path))
    return out;
  auto text = read_whole_file(path);
  if (!text)
    return std::move(text.error());
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.contains("tasks") || !j["tasks"].is_array())
    return make_llmos_error(error_code::bad_config,
                            path.string() + ": not a job table (JSON with a 'tasks' array)");
  std::size_t i = 0;
  for (const auto& item : j["tasks"]) {
    auto rec = record_from_json(item);
    if (!rec)
      return make_llmos_error(error_code::bad_config, path.string() + ": record " +
                                                          std::to_string(i) + ": " +
                                                          describe(rec.error()));
    out.push_back(std::move(*rec));
    ++i;
  }
  return out;
}

} // namespace llmos::scheduler
