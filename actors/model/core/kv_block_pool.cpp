#include "model/core/kv_block_pool.hpp"

#include <stdexcept>

namespace llmos::model {

kv_block_pool::kv_block_pool(int32_t blocks, int32_t block_size, int64_t position_floats,
                             int32_t layers, bool host_memory)
    : block_size_(block_size), layers_(layers),
      block_floats_(int64_t{block_size} * position_floats), layer_stride_(block_floats_ * blocks) {
  if (blocks <= 0 || block_size <= 0 || position_floats <= 0 || layers <= 0)
    throw std::invalid_argument("kv_block_pool: every size must be positive");
  if (host_memory) {
    keys_.reset(new float[static_cast<std::size_t>(floats())]);
    values_.reset(new float[static_cast<std::size_t>(floats())]);
  }
  refs_.assign(blocks, 0);
  where_.resize(blocks);
  in_cached_.assign(blocks, false);
  key_of_.resize(blocks);
  // Handed out lowest id first (popped from the back).
  for (int32_t b = blocks - 1; b >= 0; --b)
    clean_.push_back(b);
}

int32_t kv_block_pool::free_blocks() const {
  return static_cast<int32_t>(clean_.size() + cached_.size());
}

void kv_block_pool::forget(int32_t block) {
  if (key_of_[block]) {
    published_.erase(*key_of_[block]);
    key_of_[block].reset();
  }
}

std::optional<int32_t> kv_block_pool::allocate() {
  int32_t b = -1;
  if (!clean_.empty()) {
    b = clean_.back();
    clean_.pop_back();
  } else if (!cached_.empty()) {
    // The least recently freed published block gives up its prefix.
    b = cached_.front();
    cached_.pop_front();
    in_cached_[b] = false;
    forget(b);
  } else {
    return std::nullopt;
  }
  refs_[b] = 1;
  return b;
}

void kv_block_pool::release(int32_t block) {
  if (refs_[block] <= 0)
    throw std::logic_error("kv_block_pool: block released more often than it was held");
  if (--refs_[block] > 0)
    return;
  if (key_of_[block]) {
    where_[block] = cached_.insert(cached_.end(), block);
    in_cached_[block] = true;
  } else {
    clean_.push_back(block);
  }
}

uint64_t kv_block_pool::chain(uint64_t before, const int64_t* tokens, int32_t count) {
  // FNV-1a over the previous hash and the tokens: stable across runs and machines. Equal hashes
  // are only a lookup key; the tokens themselves are compared too.
  uint64_t h = 0xcbf29ce484222325ull ^ before;
  h *= 0x100000001b3ull;
  for (int32_t i = 0; i < count; ++i) {
    auto t = static_cast<uint64_t>(tokens[i]);
    for (int byte = 0; byte < 8; ++byte) {
      h ^= (t >> (8 * byte)) & 0xff;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

bool kv_block_pool::publish(uint64_t before, const int64_t* tokens, int32_t block) {
  if (key_of_[block])
    return false;
  key k{before, std::vector<int64_t>(tokens, tokens + block_size_)};
  auto [it, fresh] = published_.emplace(k, block);
  if (!fresh)
    return false;
  key_of_[block] = std::move(k);
  return true;
}

std::vector<int32_t> kv_block_pool::match(const std::vector<int64_t>& context,
                                          int64_t max_positions, uint64_t& hash_out,
                                          uint64_t seed) {
  std::vector<int32_t> out;
  uint64_t before = seed;
  for (int64_t end = block_size_; end <= max_positions && end <= int64_t(context.size());
       end += block_size_) {
    const int64_t* tokens = context.data() + end - block_size_;
    auto it = published_.find(key{before, std::vector<int64_t>(tokens, tokens + block_size_)});
    if (it == published_.end())
      break;
    const int32_t b = it->second;
    if (refs_[b] == 0 && in_cached_[b]) {
      cached_.erase(where_[b]);
      in_cached_[b] = false;
    }
    ++refs_[b];
    out.push_back(b);
    before = chain(before, tokens, block_size_);
  }
  reused_ += out.size();
  hash_out = before;
  return out;
}

} // namespace llmos::model
