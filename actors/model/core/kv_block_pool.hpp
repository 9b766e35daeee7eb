// A paged KV cache's memory: a fixed pool of blocks, each holding the keys and values of
// `block_size` consecutive positions of one sequence for every layer. Sequences own lists of
// block ids (their block tables) instead of a whole context each, so a replica's memory holds
// as many sequences as their actual lengths allow, not as many as the longest context would.
//
// Prefix caching: a block that a sequence has filled completely can be published under the
// tokens it holds and every token before it (a chain hash of the earlier blocks plus its own
// tokens, compared exactly). A later sequence whose context starts with the same tokens takes
// the published blocks instead of computing them again (a shared system prompt or chat history).
// A block is freed when its last user releases it, but it stays published (and matchable) until
// its memory is needed: allocation takes never-published free blocks first, then the least
// recently freed published one. Shared blocks are always full, so nobody writes into them.
//
// Plain C++ (no torch): the decoder hands the float arrays to the decode kernel.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace llmos::model {

class kv_block_pool {
public:
  /// `blocks` blocks of `block_size` positions, `position_floats` floats per position and layer
  /// (kv_heads * head_dim) for keys and the same for values, over `layers` layers. Without
  /// `host_memory` the pool only keeps the books: the arrays are a GPU's (llama_paged_cuda, laid
  /// out as layer_stride() says), and keys() and values() are null.
  kv_block_pool(int32_t blocks, int32_t block_size, int64_t position_floats, int32_t layers,
                bool host_memory = true);

  int32_t block_size() const { return block_size_; }
  int32_t total() const { return static_cast<int32_t>(refs_.size()); }
  /// Blocks nobody uses (published ones kept for matching included).
  int32_t free_blocks() const;
  int32_t used_blocks() const { return total() - free_blocks(); }
  /// Users of a block: 0 when free, 2 or more when shared.
  int32_t users(int32_t block) const { return refs_[block]; }

  /// A block with one user, or nullopt when every block is in use.
  std::optional<int32_t> allocate();
  /// One user fewer; at none the block is free (and stays matchable if published).
  void release(int32_t block);

  /// The chain hash of a block's tokens after the chain hash of the blocks before it (0 for the
  /// first block).
  static uint64_t chain(uint64_t before, const int64_t* tokens, int32_t count);

  /// Publishes a full block of `tokens[0, block_size)` whose earlier blocks hash to `before`;
  /// false (and nothing changes) when the same prefix is already published by another block.
  bool publish(uint64_t before, const int64_t* tokens, int32_t block);

  /// The longest run of published blocks that hold `context`'s first positions, at most
  /// `max_positions` of them, each with one more user (the caller now holds them); the chain
  /// hash after the last one is written to `hash_out`. The chain starts at `seed` (0: the `before`
  /// of a first block), so callers whose blocks are not interchangeable for the same tokens (other
  /// weights) publish and match under seeds of their own.
  std::vector<int32_t> match(const std::vector<int64_t>& context, int64_t max_positions,
                             uint64_t& hash_out, uint64_t seed = 0);

  /// Blocks handed out by match() since the pool was made.
  uint64_t reused_blocks() const { return reused_; }

  /// Floats of each array over every layer.
  int64_t floats() const { return layer_stride_ * layers_; }
  float* keys() { return keys_.get(); }
  float* values() { return values_.get(); }
  /// Floats between one layer's blocks and the next layer's.
  int64_t layer_stride() const { return layer_stride_; }
  /// Floats of one block within a layer.
  int64_t block_floats() const { return block_floats_; }

private:
  using key = std::pair<uint64_t, std::vector<int64_t>>;
  void forget(int32_t block);

  int32_t block_size_, layers_;
  int64_t block_floats_, layer_stride_;
  // Not zeroed: a position is always written before it is read, and untouched pages of a large
  // pool then cost no memory and no time (zeroing 40 MB took longer than a short generation).
  std::unique_ptr<float[]> keys_, values_;
  std::vector<int32_t> refs_;
  std::vector<int32_t> clean_;                      ///< free, never published (or forgotten)
  std::list<int32_t> cached_;                       ///< free and published, oldest first
  std::vector<std::list<int32_t>::iterator> where_; ///< a block's place in cached_
  std::vector<bool> in_cached_;
  std::map<key, int32_t> published_;
  std::vector<std::optional<key>> key_of_; ///< what a block is published under
  uint64_t reused_ = 0;
};

} // namespace llmos::model
