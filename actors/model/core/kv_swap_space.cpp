#include "model/core/kv_swap_space.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace llmos::model {

kv_swap_space::kv_swap_space(int32_t blocks)
    : total_(std::max(blocks, 0)), out_(static_cast<std::size_t>(total_)) {
  free_.reserve(static_cast<std::size_t>(total_));
  for (int32_t b = total_; b-- > 0;) // block 0 first: the memory's front is touched first
    free_.push_back(b);
}

std::optional<std::vector<int32_t>> kv_swap_space::allocate(int32_t n) {
  if (n < 0 || static_cast<std::size_t>(n) > free_.size())
    return std::nullopt;
  std::vector<int32_t> out(free_.rbegin(), free_.rbegin() + n);
  free_.resize(free_.size() - static_cast<std::size_t>(n));
  for (auto b : out)
    out_[b] = true;
  return out;
}

void kv_swap_space::release(const std::vector<int32_t>& blocks) {
  std::vector<bool> seen(out_.size());
  for (auto b : blocks) {
    if (b < 0 || b >= total_ || !out_[b] || seen[b])
      throw std::logic_error("kv swap space: block " + std::to_string(b) + " is not handed out");
    seen[b] = true;
  }
  for (auto b : blocks)
    out_[b] = false;
  free_.insert(free_.end(), blocks.rbegin(), blocks.rend());
}

} // namespace llmos::model
