#include "scheduler/core/scheduler_core.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "llmos/messages/enum_names.hpp"
#include "llmos/messages/error.hpp"
#include "scheduler/core/preemption.hpp"
#include "scheduler/core/wait_reason.hpp"

namespace llmos::scheduler {

constexpr enum_name<task_state> state_names[] = {
    {task_state::queued, "queued"},      {task_state::starting, "starting"},
    {task_state::running, "running"},    {task_state::stopping, "stopping"},
    {task_state::done, "done"},          {task_state::failed, "failed"},
    {task_state::cancelled, "cancelled"}};

const char* to_string(task_state s) {
  return name_of(state_names, s, "?").data();
}

caf::expected<scheduler_core> scheduler_core::make(policy_options options, cluster_state cluster) {
  auto p = make_policy(options);
  if (!p)
    return std::move(p.error());
  return scheduler_core{std::move(options), std::move(cluster), std::move(*p)};
}

scheduler_core::scheduler_core(policy_options options, cluster_state cluster,
                               std::unique_ptr<policy> p)
    : options_(std::move(options)), cluster_(std::move(cluster)), policy_(std::move(p)) {
  largest_ = resources{0, 0, 0};
  for (const auto& n : cluster_.nodes()) {
    largest_.cpu_threads = std::max(largest_.cpu_threads, n.cpu_threads);
    largest_.gpus = std::max(largest_.gpus, static_cast<uint32_t>(n.gpus.size()));
    for (const auto& g : n.gpus)
      largest_.gpu_memory_mb = std::max(largest_.gpu_memory_mb, g.memory_mb);
  }
}

caf::expected<uint64_t> scheduler_core::submit(task_request req, double now) {
  auto refuse = [&](const std::string& what) {
    return make_llmos_error(error_code::bad_params, "task '" + req.name + "': " + what);
  };
  if (req.replicas == 0)
    return refuse("replicas must be at least 1");
  const auto& r = req.per_replica;
  if (r.cpu_threads == 0)
    return refuse("cpu_threads must be at least 1 (a replica needs a thread to drive it)");
  if (r.cpu_threads > largest_.cpu_threads)
    return refuse("asks " + std::to_string(r.cpu_threads) +
                  " threads per replica; the largest "
                  "node has " +
                  std::to_string(largest_.cpu_threads));
  if (r.gpus > largest_.gpus)
    return refuse("asks " + std::to_string(r.gpus) + " GPUs per replica; the largest node has " +
                  std::to_string(largest_.gpus));
  if (r.gpus > 0 && r.gpu_memory_mb > largest_.gpu_memory_mb)
    return refuse("asks " + std::to_string(r.gpu_memory_mb) + " MB per GPU; the largest GPU has " +
                  std::to_string(largest_.gpu_memory_mb));
  if (pending_.size() >= options_.max_pending)
    return make_llmos_error(error_code::overloaded,
                            "task '" + req.name + "': " + std::to_string(pending_.size()) +
                                " tasks are already waiting (max_pending); retry later");
  task_record t;
  t.id = next_id_++;
  t.req = std::move(req);
  t.submitted = now;
  const auto id = t.id;
  tasks_.emplace(id, std::move(t));
  pending_.insert(id);
  return id;
}

void scheduler_core::start_unblocked(double now, std::vector<decision>& out,
                                     std::vector<queue_entry>& queue) {
  const std::vector<uint64_t> pending(pending_.begin(), pending_.end());
  for (auto id : pending) {
    auto& t = tasks_.at(id);
    if (t.state == task_state::starting && t.waiting_for.empty()) {
      set_state(t, task_state::running);
      t.started = now;
      out.push_back({decision::kind::start, id, t.where});
    } else if (t.state == task_state::queued && t.not_before <= now) {
      queue.push_back({id, &t.req, t.submitted});
    }
  }
}

bool scheduler_core::preempt_for(task_record& t, preemption_candidates& running,
                                 std::vector<decision>& out) {
  if (running.dirty) {
    running.tasks.clear();
    for (auto rid : running_)
      if (auto& rt = tasks_.at(rid); rt.req.preemptible)
        running.tasks.push_back(
            {rid, rt.req.priority, rt.started, rt.req.preemptible, &rt.where, &rt.req.per_replica});
    running.dirty = false;
  }
  auto plan = plan_preemption(t.req, running.tasks, options_.preempt_margin, cluster_,
                              policy_->placement_order());
  if (!plan)
    return false;
  for (auto victim : plan->victims) {
    auto& v = tasks_.at(victim);
    set_state(v, task_state::stopping);
    v.where.clear(); // released by the plan
    ++v.preemptions;
    out.push_back({decision::kind::preempt, victim, {}});
  }
  set_state(t, task_state::starting);
  t.where = std::move(plan->where);
  t.waiting_for = std::move(plan->victims);
  ++placements_;
  running.dirty = true;
  return true;
}

std::vector<decision> scheduler_core::schedule(double now) {
  std::vector<decision> out;
  std::vector<queue_entry> queue;
  start_unblocked(now, out, queue);
  if (queue.empty())
    return out;
  const auto shares = owner_shares();
  order_context ctx{now, &shares, static_cast<double>(cluster_.cpu_total()),
                    static_cast<double>(cluster_.gpu_total())};
  // Shapes that found no room in this pass: later tasks of the same shape are skipped without a
  // walk over the nodes (nothing is freed within a pass except by preemption, which places).
  std::set<std::tuple<uint32_t, uint32_t, uint64_t, uint32_t>> no_room;
  // Worded once per shape and pass, shared by the tasks of that shape.
  std::map<decltype(no_room)::value_type, std::shared_ptr<const std::string>> reasons;
  preemption_candidates running;                                      // built when first needed
  std::set<std::pair<int, decltype(no_room)::value_type>> no_victims; // (priority, shape) tried
  for (auto id : policy_->order(std::move(queue), ctx)) {
    auto& t = tasks_.at(id);
    const auto& r = t.req.per_replica;
    auto shape = std::make_tuple(r.cpu_threads, r.gpus, r.gpu_memory_mb, t.req.replicas);
    std::optional<placement> where;
    if (!no_room.count(shape) && !cluster_.open_nodes().empty())
      where = policy_->place(t.req, cluster_);
    if (where) {
      set_state(t, task_state::running);
      t.started = now;
      t.where = std::move(*where);
      ++placements_;
      out.push_back({decision::kind::start, id, t.where});
      continue;
    }
    no_room.insert(shape);
    auto& why = reasons[shape];
    if (!why)
      why = std::make_shared<const std::string>(wait_reason(t.req, cluster_));
    t.waiting = why;
    const bool victims_exist =
        !running_priorities_.empty() &&
        *running_priorities_.begin() + options_.preempt_margin <= t.req.priority;
    if (policy_->preempts() && victims_exist && !no_victims.count({t.req.priority, shape})) {
      if (preempt_for(t, running, out))
        continue;
      // Another task of this shape and priority would find no victims either in this pass.
      no_victims.insert({t.req.priority, shape});
    }
    // Blocked. Others may go ahead (backfill) until it has waited too long; then it reserves.
    if (!options_.backfill || now - t.submitted >= options_.reserve_after_s)
      break;
  }
  return out;
}

void scheduler_core::free_resources(task_record& t) {
  release_all(t.where, t.req.per_replica, cluster_);
  t.where.clear();
}

void scheduler_core::finished(uint64_t id, double now) {
  auto it = tasks_.find(id);
  if (it == tasks_.end() || it->second.state != task_state::running)
    return;
  free_resources(it->second);
  set_state(it->second, task_state::done);
  it->second.finished = now;
}

double scheduler_core::backoff(uint32_t attempts) const {
  return std::min(options_.retry_max_s,
                  options_.retry_base_s * std::pow(2.0, static_cast<double>(attempts - 1)));
}

void scheduler_core::failed(uint64_t id, double now, const std::string& error) {
  auto it = tasks_.find(id);
  if (it == tasks_.end())
    return;
  auto& t = it->second;
  if (t.state != task_state::running && t.state != task_state::stopping)
    return;
  free_resources(t);
  t.error = error;
  if (t.cancelling) {
    set_state(t, task_state::cancelled);
    t.finished = now;
    return;
  }
  ++t.attempts;
  if (t.attempts >= options_.max_attempts) {
    set_state(t, task_state::failed);
    t.finished = now;
    return;
  }
  set_state(t, task_state::queued);
  t.not_before = now + backoff(t.attempts);
}

void scheduler_core::stopped(uint64_t id, double now) {
  auto it = tasks_.find(id);
  if (it == tasks_.end() || it->second.state != task_state::stopping)
    return;
  auto& t = it->second;
  free_resources(t);
  set_state(t, t.cancelling ? task_state::cancelled : task_state::queued);
  if (t.cancelling)
    t.finished = now;
  for (auto other : pending_)
    if (auto& o = tasks_.at(other); o.state == task_state::starting)
      o.waiting_for.erase(std::remove(o.waiting_for.begin(), o.waiting_for.end(), id),
                          o.waiting_for.end());
}

caf::expected<std::optional<decision>> scheduler_core::cancel(uint64_t id, double now) {
  auto it = tasks_.find(id);
  if (it == tasks_.end())
    return make_llmos_error(error_code::not_found, "no task " + std::to_string(id));
  auto& t = it->second;
  switch (t.state) {
  case task_state::queued:
  case task_state::starting:
    free_resources(t);
    set_state(t, task_state::cancelled);
    t.finished = now;
    return std::optional<decision>{};
  case task_state::running:
    free_resources(t);
    set_state(t, task_state::stopping);
    t.cancelling = true;
    return std::optional<decision>{decision{decision::kind::stop, id, {}}};
  case task_state::stopping:
    t.cancelling = true;
    return std::optional<decision>{};
  default:
    return make_llmos_error(error_code::bad_params, "task " + std::to_string(id) +
                                                        " already ended (" + to_string(t.state) +
                                                        ")");
  }
}

std::vector<decision> scheduler_core::node_lost(std::size_t node, double now) {
  cluster_.set_up(node, false);
  std::vector<decision> out;
  std::vector<uint64_t> gone;
  for (auto& [id, t] : tasks_) {
    const bool active = t.state == task_state::running || t.state == task_state::starting ||
                        t.state == task_state::stopping;
    if (!active)
      continue;
    bool here = false;
    for (const auto& slot : t.where)
      here = here || slot.node == node;
    // A task being stopped no longer holds a placement: it is lost with its node when the
    // executor says so (stopped); a running one on the node is queued again right away.
    if (!here)
      continue;
    out.push_back({decision::kind::stop, id, {}});
    free_resources(t);
    ++t.reschedules;
    set_state(t, t.cancelling ? task_state::cancelled : task_state::queued);
    if (t.cancelling)
      t.finished = now;
    t.waiting_for.clear();
    gone.push_back(id);
  }
  for (auto id : pending_)
    for (auto g : gone) {
      auto& w = tasks_.at(id).waiting_for;
      w.erase(std::remove(w.begin(), w.end(), g), w.end());
    }
  return out;
}

std::size_t scheduler_core::add_node(node_slot node) {
  largest_.cpu_threads = std::max(largest_.cpu_threads, node.cpu_threads);
  largest_.gpus = std::max(largest_.gpus, static_cast<uint32_t>(node.gpus.size()));
  for (const auto& g : node.gpus)
    largest_.gpu_memory_mb = std::max(largest_.gpu_memory_mb, g.memory_mb);
  return cluster_.add_node(std::move(node));
}

void scheduler_core::set_detail(uint64_t id, const std::string& key, const std::string& value) {
  if (auto it = tasks_.find(id); it != tasks_.end())
    it->second.req.detail[key] = value;
}

void scheduler_core::node_back(std::size_t node) {
  cluster_.set_up(node, true);
}

bool scheduler_core::set_external(std::size_t node, const external_load& load) {
  const auto& n = cluster_.nodes()[node];
  std::vector<uint32_t> gpus(n.gpus.size(), 0);
  bool changed = n.cpu_external != load.cpu_threads;
  for (std::size_t g = 0; g < n.gpus.size(); ++g) {
    auto it = load.gpu_holders.find(n.gpus[g].device);
    gpus[g] = it == load.gpu_holders.end() || n.gpus[g].device.empty() ? 0 : it->second;
    changed = changed || gpus[g] != n.gpus[g].external;
  }
  if (changed)
    cluster_.set_external(node, load.cpu_threads, gpus);
  return changed;
}

void scheduler_core::restore(task_record record) {
  // Whatever ran when the scheduler stopped is gone or orphaned: run it again (from its
  // checkpoint, which is the executor's business).
  if (record.state == task_state::running || record.state == task_state::starting ||
      record.state == task_state::stopping) {
    record.state = record.cancelling ? task_state::cancelled : task_state::queued;
    ++record.reschedules;
  }
  record.where.clear();
  record.waiting_for.clear();
  next_id_ = std::max(next_id_, record.id + 1);
  if (record.state == task_state::queued)
    pending_.insert(record.id);
  if (record.state == task_state::done || record.state == task_state::failed ||
      record.state == task_state::cancelled)
    ended_.push_back(record.id);
  tasks_[record.id] = std::move(record);
}

const task_record* scheduler_core::task(uint64_t id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

std::map<std::string, double> scheduler_core::owner_shares() const {
  std::map<std::string, double> out;
  for (const auto& [owner, share] : shares_)
    if (share > 1e-12) // sums of additions and subtractions leave dust
      out[owner] = share;
  return out;
}

void scheduler_core::set_state(task_record& t, task_state s) {
  t.waiting.reset(); // a reason holds until the task moves; a pass finding no room sets it again
  auto holds = [](task_state x) { return x == task_state::running || x == task_state::starting; };
  auto waits = [](task_state x) { return x == task_state::queued || x == task_state::starting; };
  const double share = dominant_share(t.req, static_cast<double>(cluster_.cpu_total()),
                                      static_cast<double>(cluster_.gpu_total()));
  if (holds(t.state) && !holds(s))
    shares_[t.req.owner] -= share;
  if (!holds(t.state) && holds(s))
    shares_[t.req.owner] += share;
  if (waits(t.state) && !waits(s))
    pending_.erase(t.id);
  if (!waits(t.state) && waits(s))
    pending_.insert(t.id);
  if (t.state == task_state::running && s != task_state::running) {
    running_.erase(t.id);
    if (t.req.preemptible)
      running_priorities_.erase(running_priorities_.find(t.req.priority));
  }
  auto ended = [](task_state x) {
    return x == task_state::done || x == task_state::failed || x == task_state::cancelled;
  };
  if (!ended(t.state) && ended(s))
    ended_.push_back(t.id);
  if (t.state != task_state::running && s == task_state::running) {
    running_.insert(t.id);
    if (t.req.preemptible)
      running_priorities_.insert(t.req.priority);
  }
  t.state = s;
}

void scheduler_core::forget_finished(std::size_t keep) {
  while (ended_.size() > keep) {
    tasks_.erase(ended_.front());
    ended_.pop_front();
  }
}

} // namespace llmos::scheduler
