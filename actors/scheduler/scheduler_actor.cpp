#include "scheduler/scheduler_actor.hpp"

#include <algorithm>
#include <sstream>

#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/state_dir.hpp"
#include "scheduler/core/job_table.hpp"
#include "scheduler/scheduler_state.hpp"
#include "scheduler/task_form.hpp"

namespace llmos::scheduler {

using namespace std::chrono_literals;

double now_s(const scheduler_state& st) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
}

void persist(self_ptr self) {
  auto& st = self->state;
  st.core->forget_finished(1000); // the table stays bounded; the newest ended tasks stay
  // Written (and fsynced) only when a record changed, not on every tick.
  auto text = scheduler::job_table_text(st.core->tasks());
  if (text == st.saved_table)
    return;
  if (auto ok = scheduler::write_job_table(st.cfg.root / "jobs.json", text); !ok) {
    log_warning("scheduler '" + st.cfg.name + "': " + describe(ok.error()));
    return;
  }
  st.saved_table = std::move(text);
}

void execute(self_ptr self, const std::vector<scheduler::decision>& decisions) {
  for (const auto& d : decisions) {
    switch (d.what) {
    case scheduler::decision::kind::start:
      start_task(self, d.task, d.where);
      break;
    case scheduler::decision::kind::preempt:
      log_info("scheduler '" + self->state.cfg.name + "': preempting task " +
               std::to_string(d.task));
      stop_task(self, d.task);
      break;
    case scheduler::decision::kind::stop:
      stop_task(self, d.task);
      break;
    }
  }
}

void schedule_now(self_ptr self) {
  auto& st = self->state;
  if (!st.core)
    return;
  auto decisions = st.core->schedule(now_s(st));
  execute(self, decisions);
  settle_waiters(self);
  persist(self);
}

caf::expected<uint64_t> accept(self_ptr self, task_spec spec) {
  auto& st = self->state;
  auto req = to_task_request(spec);
  if (!req)
    return std::move(req.error());
  for (const auto& [id, t] : st.core->tasks())
    if (t.req.name == req->name && t.state != scheduler::task_state::done &&
        t.state != scheduler::task_state::failed && t.state != scheduler::task_state::cancelled)
      return make_llmos_error(error_code::duplicate_name, "task '" + req->name + "' is already " +
                                                              scheduler::to_string(t.state) +
                                                              " as task " + std::to_string(id) +
                                                              " (names are actor names)");
  return st.core->submit(std::move(*req), now_s(st));
}

void settle_waiters(self_ptr self) {
  auto& st = self->state;
  for (auto it = st.waiters.begin(); it != st.waiters.end();) {
    const auto* t = st.core ? st.core->task(it->first) : nullptr;
    const bool ended = t && (t->state == scheduler::task_state::done ||
                             t->state == scheduler::task_state::failed ||
                             t->state == scheduler::task_state::cancelled);
    if (!ended) {
      ++it;
      continue;
    }
    auto status = to_task_status(*t, st.core->cluster(), now_s(st), "");
    for (auto& w : it->second)
      w.promise.deliver(status);
    it = st.waiters.erase(it);
  }
}

namespace {

caf::error unknown_task(self_ptr self, uint64_t id) {
  return make_llmos_error(error_code::not_found, "scheduler '" + self->state.cfg.name +
                                                     "': no task " + std::to_string(id));
}

std::string progress_of(self_ptr self, uint64_t id) {
  auto it = self->state.runs.find(id);
  return it == self->state.runs.end() ? "" : it->second.progress;
}

/// The job table of an earlier run; one that cannot be read is never overwritten: it is set
/// aside for a person to look at, and the scheduler starts with an empty table.
void restore_jobs(scheduler_state& st) {
  const auto table = st.cfg.root / "jobs.json";
  auto loaded = scheduler::load_job_table(table);
  if (loaded) {
    st.restored = std::move(*loaded);
    return;
  }
  auto aside = table;
  aside +=
      ".damaged-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  std::error_code ec;
  std::filesystem::rename(table, aside, ec);
  log_warning("scheduler '" + st.cfg.name + "': " + describe(loaded.error()) + " (moved to " +
              aside.string() + "; starting with an empty table)");
}

caf::result<uint64_t> on_submit(self_ptr self, task_spec& spec) {
  auto& st = self->state;
  if (!st.core) { // no node has answered yet: accepted once the first one does
    auto promise = self->make_response_promise<uint64_t>();
    st.early.emplace_back(std::move(spec), promise);
    return promise;
  }
  auto id = accept(self, std::move(spec));
  if (!id)
    return std::move(id.error());
  schedule_now(self);
  return *id;
}

caf::result<task_status> on_cancel(self_ptr self, uint64_t id) {
  auto& st = self->state;
  if (!st.core)
    return unknown_task(self, id);
  auto stop = st.core->cancel(id, now_s(st));
  if (!stop)
    return std::move(stop.error());
  if (*stop)
    execute(self, {**stop});
  settle_waiters(self);
  persist(self);
  return to_task_status(*st.core->task(id), st.core->cluster(), now_s(st), progress_of(self, id));
}

caf::result<task_status> on_status(self_ptr self, uint64_t id) {
  auto& st = self->state;
  const auto* t = st.core ? st.core->task(id) : nullptr;
  if (!t)
    return unknown_task(self, id);
  return to_task_status(*t, st.core->cluster(), now_s(st), progress_of(self, id));
}

/// Every task, newest first.
std::vector<task_status> on_queue(self_ptr self) {
  auto& st = self->state;
  std::vector<task_status> out;
  if (!st.core)
    return out;
  for (const auto& [id, t] : st.core->tasks())
    out.push_back(to_task_status(t, st.core->cluster(), now_s(st), progress_of(self, id)));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id > b.id; });
  return out;
}

caf::result<task_status> on_wait(self_ptr self, uint64_t id, caf::actor progress) {
  auto& st = self->state;
  const auto* t = st.core ? st.core->task(id) : nullptr;
  if (!t)
    return unknown_task(self, id);
  auto promise = self->make_response_promise<task_status>();
  st.waiters[id].push_back({promise, std::move(progress)});
  settle_waiters(self);
  return promise;
}

scheduler_actor::behavior_type behavior(self_ptr self, scheduler_config cfg) {
  self->state.cfg = std::move(cfg);
  restore_jobs(self->state);
  self->send(self, tick_atom::value);
  return {
      [self](submit_atom, task_spec& spec) { return on_submit(self, spec); },
      [self](cancel_atom, uint64_t id) { return on_cancel(self, id); },
      [self](status_atom, uint64_t id) { return on_status(self, id); },
      [self](queue_atom) { return on_queue(self); },
      [self](wait_atom, uint64_t id, caf::actor progress) {
        return on_wait(self, id, std::move(progress));
      },
      [self](tick_atom) {
        probe_cluster(self);
        schedule_now(self);
        self->delayed_send(self, 1s, tick_atom::value);
      },
      [self](progress_atom, uint64_t id, progress_event& ev) { on_progress(self, id, ev); },
  };
}

/// "a=1,b=3" -> weights; bad_config names the entry.
caf::expected<std::map<std::string, double>> parse_weights(const std::string& text) {
  std::map<std::string, double> out;
  std::stringstream ss{text};
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty())
      continue;
    auto eq = item.find('=');
    double w = 0;
    try {
      w = eq == std::string::npos ? -1 : std::stod(item.substr(eq + 1));
    } catch (const std::exception&) {
      w = -1;
    }
    if (w <= 0)
      return make_llmos_error(error_code::bad_config,
                              "config key 'weights': '" + item +
                                  "' is not OWNER=WEIGHT with a weight above 0");
    out[item.substr(0, eq)] = w;
  }
  return out;
}

} // namespace
} // namespace llmos::scheduler

namespace llmos {

namespace {

/// The keys a topology may give a scheduler (a table, read when the kind is registered).
const std::vector<config_field> scheduler_fields = {
    optional_key("policy", config_type::string, "priority", "scheduling policy",
                 {"fifo", "round-robin", "least-loaded", "priority", "fair-share"}),
    optional_key("root", config_type::path, "",
                 "folder of the job table and checkpoints; default .cache/state/scheduler"),
    optional_key("aging_per_s", config_type::number, "0.01",
                 "priority points a waiting task gains per second"),
    optional_key("preemption", config_type::boolean, "true", "higher priority stops lower"),
    optional_key("backfill", config_type::boolean, "true", "later tasks may pass a blocked one"),
    optional_key("weights", config_type::string, "", "fair share: OWNER=WEIGHT,..."),
    optional_key("max_attempts", config_type::integer, "3", "failures before a task fails"),
    optional_key("retry_base_s", config_type::number, "1", "first retry delay (doubles)"),
    optional_key("max_pending", config_type::integer, "10000",
                 "waiting tasks; submit refuses beyond"),
    optional_key("node_threads", config_type::integer, "0",
                 "threads of a node without CPU device actors"),
};

caf::expected<caf::actor> spawn_scheduler(spawn_context& ctx) {
  scheduler::scheduler_config cfg;
  cfg.name = ctx.name;
  cfg.root = state_root(ctx.config["root"], "scheduler");
  cfg.manager = ctx.manager;
  auto& p = cfg.policy;
  p.policy = ctx.config["policy"];
  try {
    p.aging_per_s = std::stod(ctx.config["aging_per_s"]);
    p.retry_base_s = std::stod(ctx.config["retry_base_s"]);
    p.max_attempts = static_cast<uint32_t>(std::stoul(ctx.config["max_attempts"]));
    p.max_pending = std::stoul(ctx.config["max_pending"]);
    cfg.node_threads = static_cast<uint32_t>(std::stoul(ctx.config["node_threads"]));
  } catch (const std::exception&) {
    return make_llmos_error(error_code::bad_config,
                            "scheduler '" + ctx.name +
                                "': aging_per_s, retry_base_s, max_attempts, max_pending and "
                                "node_threads must be numbers");
  }
  p.preemption = ctx.config["preemption"] == "true";
  p.backfill = ctx.config["backfill"] == "true";
  auto weights = scheduler::parse_weights(ctx.config["weights"]);
  if (!weights)
    return std::move(weights.error());
  p.weights = std::move(*weights);
  if (auto policy = scheduler::make_policy(p); !policy)
    return std::move(policy.error());
  if (!cfg.manager)
    return make_llmos_error(error_code::bad_config,
                            "scheduler '" + ctx.name + "' needs a node manager to run tasks");
  return caf::actor_cast<caf::actor>(ctx.system.spawn(scheduler::behavior, std::move(cfg)));
}

} // namespace

actor_kind scheduler_kind() {
  return {"scheduler", "places tasks (training runs, trials) on the cluster's nodes by a policy",
          scheduler_fields, spawn_scheduler};
}

} // namespace llmos
