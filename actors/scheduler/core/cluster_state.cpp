#include "scheduler/core/cluster_state.hpp"

#include <algorithm>

namespace llmos::scheduler {

namespace {

/// Whether GPU `g` can take a replica share of `mb` (0 = the whole GPU).
bool gpu_fits(const gpu_slot& g, uint64_t mb) {
  if (mb == 0)
    return g.holders == 0;
  return g.used_mb + mb <= g.memory_mb;
}

} // namespace

std::size_t cluster_state::add_node(node_slot node) {
  const std::size_t i = nodes_.size();
  cpu_total_ += node.cpu_threads;
  gpu_total_ += node.gpus.size();
  nodes_.push_back(std::move(node));
  indexed_load_.push_back(0);
  index(i);
  return i;
}

std::optional<std::size_t> cluster_state::find(const std::string& name) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].name == name)
      return i;
  return std::nullopt;
}

bool cluster_state::fits(std::size_t node, const resources& r) const {
  const auto& n = nodes_[node];
  if (!n.up || n.cpu_used + r.cpu_threads > n.cpu_threads)
    return false;
  if (r.gpus == 0)
    return true;
  uint32_t free = 0;
  for (const auto& g : n.gpus)
    if (gpu_fits(g, r.gpu_memory_mb) && ++free >= r.gpus)
      return true;
  return false;
}

std::optional<replica_slot> cluster_state::take(std::size_t node, const resources& r) {
  if (!fits(node, r))
    return std::nullopt;
  auto& n = nodes_[node];
  replica_slot slot;
  slot.node = node;
  // Best fit: the GPUs with the least free memory that still fit, so large requests later find
  // whole GPUs rather than many half-used ones.
  std::vector<std::size_t> candidates;
  for (std::size_t g = 0; g < n.gpus.size(); ++g)
    if (gpu_fits(n.gpus[g], r.gpu_memory_mb))
      candidates.push_back(g);
  std::stable_sort(candidates.begin(), candidates.end(), [&](std::size_t a, std::size_t b) {
    return n.gpus[a].memory_mb - n.gpus[a].used_mb < n.gpus[b].memory_mb - n.gpus[b].used_mb;
  });
  candidates.resize(r.gpus);
  unindex(node);
  n.cpu_used += r.cpu_threads;
  cpu_used_ += r.cpu_threads;
  for (auto g : candidates) {
    auto& gpu = n.gpus[g];
    if (gpu.holders++ == 0)
      ++gpu_used_;
    gpu.used_mb += r.gpu_memory_mb == 0 ? gpu.memory_mb : r.gpu_memory_mb;
  }
  slot.gpus = std::move(candidates);
  index(node);
  return slot;
}

bool cluster_state::take_exact(const replica_slot& slot, const resources& r) {
  auto& n = nodes_[slot.node];
  if (n.cpu_used + r.cpu_threads > n.cpu_threads)
    return false;
  for (auto g : slot.gpus)
    if (!gpu_fits(n.gpus[g], r.gpu_memory_mb))
      return false;
  unindex(slot.node);
  n.cpu_used += r.cpu_threads;
  cpu_used_ += r.cpu_threads;
  for (auto g : slot.gpus) {
    auto& gpu = n.gpus[g];
    if (gpu.holders++ == 0)
      ++gpu_used_;
    gpu.used_mb += r.gpu_memory_mb == 0 ? gpu.memory_mb : r.gpu_memory_mb;
  }
  index(slot.node);
  return true;
}

void cluster_state::release(const replica_slot& slot, const resources& r) {
  auto& n = nodes_[slot.node];
  unindex(slot.node);
  n.cpu_used -= std::min(n.cpu_used, r.cpu_threads);
  cpu_used_ -= std::min<uint64_t>(cpu_used_, r.cpu_threads);
  for (auto g : slot.gpus) {
    auto& gpu = n.gpus[g];
    const uint64_t mb = r.gpu_memory_mb == 0 ? gpu.memory_mb : r.gpu_memory_mb;
    gpu.used_mb -= std::min(gpu.used_mb, mb);
    if (gpu.holders > 0 && --gpu.holders == 0)
      --gpu_used_;
  }
  index(slot.node);
}

void cluster_state::set_external(std::size_t node, uint32_t cpu_threads,
                                 const std::vector<uint32_t>& gpus) {
  auto& n = nodes_[node];
  unindex(node);
  n.cpu_used = n.cpu_used - n.cpu_external + cpu_threads;
  cpu_used_ = cpu_used_ - n.cpu_external + cpu_threads;
  n.cpu_external = cpu_threads;
  for (std::size_t g = 0; g < n.gpus.size(); ++g) {
    auto& gpu = n.gpus[g];
    const uint32_t now = g < gpus.size() ? gpus[g] : 0;
    const bool held = gpu.holders > 0;
    gpu.holders = gpu.holders - gpu.external + now;
    gpu.external = now;
    if (held != (gpu.holders > 0))
      gpu_used_ = held ? gpu_used_ - 1 : gpu_used_ + 1;
  }
  index(node);
}

void cluster_state::set_up(std::size_t node, bool up) {
  unindex(node);
  nodes_[node].up = up;
  index(node);
}

uint32_t cluster_state::load(std::size_t node) const {
  const auto& n = nodes_[node];
  uint32_t cpu = n.cpu_threads == 0 ? 1000 : n.cpu_used * 1000 / n.cpu_threads;
  uint32_t held = 0;
  for (const auto& g : n.gpus)
    held += g.holders > 0 ? 1 : 0;
  uint32_t gpu = n.gpus.empty() ? 0 : static_cast<uint32_t>(held * 1000 / n.gpus.size());
  return std::max(cpu, gpu);
}

void cluster_state::unindex(std::size_t node) {
  if (open_.erase(node) > 0) {
    const auto& n = nodes_[node];
    auto it = free_count_.find(n.cpu_threads - n.cpu_used);
    if (it != free_count_.end() && --it->second == 0)
      free_count_.erase(it);
  }
  by_load_.erase({indexed_load_[node], node});
}

void cluster_state::index(std::size_t node) {
  const auto& n = nodes_[node];
  if (!n.up || n.cpu_used >= n.cpu_threads)
    return;
  indexed_load_[node] = load(node);
  open_.insert(node);
  ++free_count_[n.cpu_threads - n.cpu_used];
  by_load_.insert({indexed_load_[node], node});
}

} // namespace llmos::scheduler
