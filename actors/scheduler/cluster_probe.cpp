// The scheduler's cluster view from the running system: the node manager lists the nodes and
// the device actors on each; a node's CPU threads are the sum of its CPU devices' threads (the
// devices own the cores) and its GPUs are its CUDA devices with their memory. Nodes that go lost or
// come back are reported to the core, which requeues what ran there. On every tick each known
// node's actors are listed too: what models the scheduler did not place hold there (server
// replicas, topology models) is counted as used (core/external_load.hpp).
#include <memory>
#include <unordered_set>

#include "llmos/messages/device.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/runtime/log.hpp"
#include "scheduler/scheduler_state.hpp"

namespace llmos::scheduler {

namespace {

using namespace std::chrono_literals;

/// Adds a probed node to the core (creating the core with its first node).
void add_node(self_ptr self, scheduler::node_slot slot) {
  auto& st = self->state;
  log_info("scheduler '" + st.cfg.name + "': node " + slot.name + " with " +
           std::to_string(slot.cpu_threads) + " threads, " + std::to_string(slot.gpus.size()) +
           " GPUs");
  if (st.core) {
    st.core->add_node(std::move(slot));
    return;
  }
  scheduler::cluster_state cluster;
  cluster.add_node(std::move(slot));
  auto core = scheduler::scheduler_core::make(st.cfg.policy, std::move(cluster));
  if (!core) // the policy was checked at spawn; this cannot fail
    return;
  st.core.emplace(std::move(*core));
  for (auto& r : st.restored)
    st.core->restore(std::move(r));
  if (!st.restored.empty())
    log_info("scheduler '" + st.cfg.name + "': recovered " + std::to_string(st.restored.size()) +
             " task(s) from the job table");
  st.restored.clear();
  for (auto& [spec, promise] : st.early) {
    auto id = accept(self, std::move(spec));
    if (id)
      promise.deliver(*id);
    else
      promise.deliver(std::move(id.error()));
  }
  st.early.clear();
}

/// Asks every device actor of a node what it is, then adds the node.
void probe_node(self_ptr self, const node_status& n) {
  auto& st = self->state;
  st.probing[n.name] = true;
  auto slot = std::make_shared<scheduler::node_slot>();
  slot->name = n.name;
  auto facts = std::make_shared<std::vector<scheduler::device_facts>>();
  auto done = [self, slot, facts]() {
    self->state.devices[slot->name] = *facts;
    if (slot->cpu_threads == 0)
      slot->cpu_threads = self->state.cfg.node_threads;
    self->state.probing.erase(slot->name);
    // A node without threads hosts nothing; its device actors may not have registered yet,
    // so it is asked again on the next tick rather than added empty.
    if (slot->cpu_threads > 0)
      add_node(self, std::move(*slot));
  };
  self->request(caf::actor_cast<node_manager_actor>(st.cfg.manager), 10s, actors_atom::value,
                n.name)
      .then(
          [self, slot, facts, done](std::vector<actor_entry>& entries) {
            std::vector<caf::actor> devices;
            for (const auto& e : entries)
              if (e.kind == "device" && e.handle)
                devices.push_back(e.handle);
            if (devices.empty())
              return done();
            auto pending = std::make_shared<std::size_t>(devices.size());
            auto one_done = [pending, done]() {
              if (--*pending == 0)
                done();
            };
            for (const auto& d : devices)
              self->request(caf::actor_cast<device_actor>(d), 10s, info_atom::value)
                  .then(
                      [slot, facts, one_done](device_info& info) {
                        const bool cuda = info.type == "cuda";
                        facts->push_back({info.name, cuda, info.threads});
                        if (cuda)
                          slot->gpus.push_back(
                              {info.memory_bytes / (1024 * 1024), 0, 0, info.name, 0});
                        else
                          slot->cpu_threads += info.threads;
                        one_done();
                      },
                      [one_done](caf::error&) { one_done(); });
          },
          [self, name = n.name](caf::error&) { self->state.probing.erase(name); });
}

/// Whether `name` is a replica the scheduler placed: of a running task, or the model a finished
/// task kept (named like its task; idle until asked, so not counted against the cluster).
bool own_replica(const scheduler_state& st, const std::unordered_set<std::string>& tasks,
                 const std::string& name) {
  if (tasks.count(name))
    return true;
  for (const auto& [id, run] : st.runs)
    for (const auto& r : run.replicas)
      if (r.actor == name)
        return true;
  return false;
}

/// ": a, b, c" (the first ten names of `models`), or "".
std::string names_of(const std::vector<std::string>& models) {
  std::string out;
  for (std::size_t i = 0; i < models.size() && i < 10; ++i)
    out += (i == 0 ? ": " : ", ") + models[i];
  return models.size() > 10 ? out + " and " + std::to_string(models.size() - 10) + " more" : out;
}

/// Counts what models the scheduler did not place hold on a known node; a change is logged and,
/// when it frees room, queued tasks may start at once.
void measure_node(self_ptr self, const std::string& node, std::size_t index) {
  self->request(caf::actor_cast<node_manager_actor>(self->state.cfg.manager), 10s,
                actors_atom::value, node)
      .then(
          [self, node, index](std::vector<actor_entry>& entries) {
            auto& st = self->state;
            if (!st.core)
              return;
            std::vector<scheduler::hosted_actor> hosted;
            hosted.reserve(entries.size());
            for (auto& e : entries)
              hosted.push_back({std::move(e.name), std::move(e.kind), std::move(e.config)});
            std::unordered_set<std::string> tasks;
            for (const auto& [id, t] : st.core->tasks())
              tasks.insert(t.req.name);
            const auto load =
                scheduler::measure_external(hosted, st.devices[node], [&](const std::string& n) {
                  return own_replica(st, tasks, n);
                });
            if (!st.core->set_external(index, load))
              return;
            log_info("scheduler '" + st.cfg.name + "': node " + node +
                     ": models it did not place " + "hold " + std::to_string(load.cpu_threads) +
                     " thread(s) and " + std::to_string(load.gpu_holders.size()) + " GPU(s)" +
                     names_of(load.models));
            schedule_now(self);
          },
          [](caf::error&) {}); // asked again on the next tick
}

} // namespace

void probe_cluster(self_ptr self) {
  auto& st = self->state;
  self->request(caf::actor_cast<node_manager_actor>(st.cfg.manager), 10s, nodes_atom::value)
      .then(
          [self](std::vector<node_status>& nodes) {
            auto& st = self->state;
            for (auto& n : nodes) {
              const bool alive = n.state == node_state::self || n.state == node_state::up;
              st.nodes[n.name] = n;
              auto index = st.core ? st.core->cluster().find(n.name) : std::nullopt;
              if (!index) {
                if (alive && !st.probing.count(n.name))
                  probe_node(self, n);
                continue;
              }
              const bool known_up = st.core->cluster().nodes()[*index].up;
              if (alive)
                measure_node(self, n.name, *index);
              if (known_up && n.state == node_state::lost) {
                log_warning("scheduler '" + st.cfg.name + "': node " + n.name +
                            " lost; its tasks go back to the queue");
                for (const auto& d : st.core->node_lost(*index, now_s(st)))
                  abandon_task(self, d.task);
                schedule_now(self);
              } else if (!known_up && alive) {
                log_info("scheduler '" + st.cfg.name + "': node " + n.name + " is back");
                st.core->node_back(*index);
                schedule_now(self);
              }
            }
          },
          [](caf::error&) {}); // the manager is this node's own; the next tick asks again
}

} // namespace llmos::scheduler
