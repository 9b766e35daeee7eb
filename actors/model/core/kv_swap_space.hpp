// The host side of a paged KV cache's swapping: a fixed number of host blocks, each holding one
// pool block's keys and values for every layer (kernels::kv_swap_blocks's layout). A preempted
// sequence takes as many as its cache fills, all or none: when they are not there, it is
// recomputed instead, so host memory for swapped caches is bounded however many sequences are
// preempted. Only the books: the memory is the decoder's (plain on a CPU, pinned on a GPU).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace llmos::model {

class kv_swap_space {
public:
  explicit kv_swap_space(int32_t blocks);

  int32_t total() const { return total_; }
  int32_t used() const { return total_ - static_cast<int32_t>(free_.size()); }

  /// `n` host blocks, or nullopt (and none taken) when fewer are free.
  std::optional<std::vector<int32_t>> allocate(int32_t n);

  /// Gives blocks back; std::logic_error for one that is not handed out (nothing is released).
  void release(const std::vector<int32_t>& blocks);

private:
  int32_t total_;
  std::vector<int32_t> free_; ///< the last is handed out first
  std::vector<bool> out_;     ///< handed out, by block
};

} // namespace llmos::model
