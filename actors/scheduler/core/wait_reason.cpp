#include "scheduler/core/wait_reason.hpp"

namespace llmos::scheduler {

namespace {

std::string node_room(const node_slot& n, bool gpus) {
  const uint32_t free = n.cpu_used >= n.cpu_threads ? 0 : n.cpu_threads - n.cpu_used;
  std::string out = n.name + ": " + std::to_string(free) + " of " + std::to_string(n.cpu_threads) +
                    " threads free";
  if (n.cpu_external > 0)
    out += " (" + std::to_string(n.cpu_external) + " held by models it did not place)";
  if (gpus) {
    std::size_t idle = 0;
    for (const auto& g : n.gpus)
      idle += g.holders == 0;
    out += ", " + std::to_string(idle) + " of " + std::to_string(n.gpus.size()) + " GPUs free";
  }
  return out;
}

} // namespace

std::string wait_reason(const task_request& req, const cluster_state& cluster,
                        std::size_t max_nodes) {
  const auto& r = req.per_replica;
  std::string out = "needs " + std::to_string(req.replicas) + " replica(s) of " +
                    std::to_string(r.cpu_threads) + " thread(s)";
  if (r.gpus > 0)
    out += " and " + std::to_string(r.gpus) + " GPU(s)" +
           (r.gpu_memory_mb > 0 ? " with " + std::to_string(r.gpu_memory_mb) + " MB free" : "");
  // The first up nodes only: a cluster of 10,000 is not walked for every blocked shape.
  const auto& nodes = cluster.nodes();
  std::size_t shown = 0, i = 0;
  for (; i < nodes.size() && shown < max_nodes; ++i)
    if (nodes[i].up) {
      out += "; " + node_room(nodes[i], r.gpus > 0);
      ++shown;
    }
  if (shown == 0)
    return out + "; no node is up";
  if (i < nodes.size())
    out += "; and " + std::to_string(nodes.size() - i) + " more node(s)";
  return out;
}

} // namespace llmos::scheduler
