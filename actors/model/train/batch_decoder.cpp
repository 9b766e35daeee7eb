#include "model/train/batch_decoder.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <utility>

#include "model/core/kv_block_pool.hpp"
#include "model/nn/llama.hpp"
#include "model/train/engine_impl.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::model {

namespace {

enum class phase { waiting, running, preempted, swapped };

/// One sequence: its context so far, the blocks that hold its keys and values, its generator.
struct sequence {
  uint64_t id = 0;
  uint64_t order = 0; ///< admission order: among equal priorities, older runs first
  int32_t priority = 0;
  int32_t logprobs = -1; ///< alternatives reported per token; -1: none
  int32_t adapter = -1;  ///< index into the decoder's adapters; -1: none
  phase state = phase::waiting;
  std::vector<int64_t> context; ///< BOS, prompt, then generated tokens
  int64_t prefilled = 0;        ///< positions [0, prefilled) are in the cache (or swapped out)
  int64_t pending = 0;          ///< positions the current step computes
  int64_t generated = 0;
  int64_t max_new = 0;
  sampling_params sampling;
  std::mt19937_64 rng;
  std::vector<int32_t> blocks; ///< the block table
  int64_t published = 0;       ///< leading full blocks published to (or taken from) the pool
  uint64_t chain = 0;          ///< the prefix hash after them
  bool looked_up = false;      ///< the prefix cache was asked since the cache was last empty
  std::vector<float> logits;   ///< of the last context position, when has_logits
  bool has_logits = false;
  std::vector<float> swap_k, swap_v; ///< [layer][position][kv_dim] while swapped out
};

} // namespace

struct batch_decoder::impl {
  engine::impl* eng = nullptr;
  nn::llama_network* net = nullptr;
  kernels::llama_decode_weights weights;
  kernels::llama_decode_scratch scratch;
  decoder_config cfg;
  std::unique_ptr<kv_block_pool> pool;
  int64_t kv_dim = 0;
  uint64_t next_id = 1, next_order = 0;
  std::map<uint64_t, sequence> live; ///< by id
  std::size_t last_batch = 0;
  uint64_t preemptions = 0;
  std::vector<float> adjusted; ///< logits after bias and penalties, one sequence at a time
  std::vector<std::shared_ptr<const lora_adapter>> adapters;
  std::vector<const kernels::llama_adapter_weights*> item_adapters; ///< per item of a step

  /// Where s's prefix chain starts: 0 under the base, a value of its own under each adapter, so
  /// that blocks computed under one are never matched by sequences of another.
  static uint64_t chain_seed(const sequence& s) {
    if (s.adapter < 0)
      return 0;
    const int64_t tag[] = {-1, s.adapter};
    return kv_block_pool::chain(0, tag, 2);
  }

  int64_t vocab() const { return eng->shape.vocab_size; }
  int64_t limit() const { return net->max_length(); }
  int64_t block_size() const { return pool->block_size(); }

  /// Schedule order: higher priority first, then older.
  template <class Map> static auto in_order(Map& live) {
    std::vector<decltype(&live.begin()->second)> out;
    for (auto& [id, s] : live)
      out.push_back(&s);
    std::sort(out.begin(), out.end(), [](const sequence* a, const sequence* b) {
      return a->priority != b->priority ? a->priority > b->priority : a->order < b->order;
    });
    return out;
  }

  kernels::llama_kv_view view(sequence& s) {
    return {pool->keys(), pool->values(), pool->layer_stride(), s.blocks.data(),
            pool->block_size()};
  }

  void release(sequence& s) {
    for (auto b : s.blocks)
      pool->release(b);
    s.blocks.clear();
  }

  /// Copies positions [0, s.prefilled) between the pool and s's host buffers.
  void copy_swap(sequence& s, bool out) {
    const auto v = view(s);
    const int64_t layers = weights.n_layers, bs = block_size();
    for (int64_t l = 0; l < layers; ++l)
      for (int64_t start = 0; start < s.prefilled; start += bs) {
        const int64_t n = std::min(bs, s.prefilled - start);
        const int64_t in_pool = l * v.layer_stride + kernels::llama_kv_offset(v, start, kv_dim);
        const int64_t in_host = (l * s.prefilled + start) * kv_dim;
        const auto bytes = static_cast<std::size_t>(n * kv_dim) * sizeof(float);
        if (out) {
          std::memcpy(s.swap_k.data() + in_host, pool->keys() + in_pool, bytes);
          std::memcpy(s.swap_v.data() + in_host, pool->values() + in_pool, bytes);
        } else {
          std::memcpy(pool->keys() + in_pool, s.swap_k.data() + in_host, bytes);
          std::memcpy(pool->values() + in_pool, s.swap_v.data() + in_host, bytes);
        }
      }
  }

  /// Frees s's blocks: its cache goes to host memory (swap) or is dropped and computed again
  /// when it resumes (its sampled tokens and generator stay, so it continues where it was).
  void preempt(sequence& s) {
    if (s.state == phase::swapped) // blocks it was getting to come back in: its cache is out
      return release(s);
    ++preemptions;
    if (cfg.swap && s.prefilled > 0) {
      const auto floats = static_cast<std::size_t>(weights.n_layers * s.prefilled * kv_dim);
      s.swap_k.resize(floats);
      s.swap_v.resize(floats);
      copy_swap(s, true);
      s.state = phase::swapped;
    } else {
      s.prefilled = 0;
      s.published = 0;
      s.chain = chain_seed(s);
      s.looked_up = false;
      s.has_logits = false;
      s.state = phase::preempted;
    }
    release(s);
  }

  /// Gives order[at] blocks for positions [0, upto). When the pool is empty, sequences later in
  /// the order give theirs up, the last first; with none left, the sequence itself is preempted
  /// when `or_self` (a decoding sequence that cannot go on), else it waits. True when it got them.
  bool reserve(std::vector<sequence*>& order, std::size_t at, int64_t upto, bool or_self) {
    sequence& s = *order[at];
    while (static_cast<int64_t>(s.blocks.size()) * block_size() < upto) {
      if (auto b = pool->allocate()) {
        s.blocks.push_back(*b);
        continue;
      }
      sequence* victim = nullptr;
      for (std::size_t i = order.size(); i-- > at + 1;)
        if (!order[i]->blocks.empty()) {
          victim = order[i];
          break;
        }
      if (victim != nullptr) {
        preempt(*victim);
        continue;
      }
      if (or_self)
        preempt(s);
      return false;
    }
    return true;
  }

  /// Takes the blocks of s's prompt prefix that the pool already holds (never the last context
  /// position: its logits are needed).
  void look_up_prefix(sequence& s) {
    s.looked_up = true;
    uint64_t hash = 0;
    auto found =
        pool->match(s.context, static_cast<int64_t>(s.context.size()) - 1, hash, chain_seed(s));
    if (found.empty())
      return;
    s.blocks = std::move(found);
    s.published = static_cast<int64_t>(s.blocks.size());
    s.prefilled = s.published * block_size();
    s.chain = hash;
  }

  /// Publishes the blocks s filled completely, so later sequences with the same prefix share them.
  void publish_full_blocks(sequence& s) {
    const int64_t bs = block_size();
    while ((s.published + 1) * bs <= s.prefilled) {
      const int64_t* tokens = s.context.data() + s.published * bs;
      pool->publish(s.chain, tokens, s.blocks[s.published]);
      s.chain = kv_block_pool::chain(s.chain, tokens, static_cast<int32_t>(bs));
      ++s.published;
    }
  }

  /// Samples the next token of every sequence whose logits are ready.
  void sample(std::vector<sequence_event>& events) {
    std::vector<uint64_t> done;
    for (auto& [id, s] : live) {
      if (!s.has_logits)
        continue;
      s.has_logits = false;
      // Penalties count what this sequence generated: the context's tail after the prompt.
      const auto* logits =
          adjusted_logits(s.logits.data(), s.logits.size(), s.sampling,
                          s.context.data() + (static_cast<int64_t>(s.context.size()) - s.generated),
                          static_cast<std::size_t>(s.generated), adjusted);
      const auto token = sample_token(logits, s.logits.size(), s.sampling, s.rng);
      const auto pos = static_cast<int64_t>(s.context.size());
      sequence_event ev{id, -1, false, "", std::nullopt};
      if (s.logprobs >= 0 && token >= 0 && token != eng->shape.eos_id)
        ev.logprobs =
            logprobs_of(s.logits.data(), s.logits.size(), static_cast<int32_t>(token), s.logprobs);
      if (token < 0 || token == eng->shape.eos_id) {
        ev.finished = true;
        ev.reason = "stop";
      } else {
        ev.token = static_cast<int32_t>(token);
        s.context.push_back(token);
        ++s.generated;
        if (s.generated >= s.max_new || pos + 1 >= limit()) {
          ev.finished = true;
          ev.reason = "length";
        }
      }
      events.push_back(ev);
      if (ev.finished)
        done.push_back(id);
    }
    for (auto id : done) {
      release(live.at(id));
      live.erase(id);
    }
  }

  /// The kernel items of this step, in schedule order: swapped sequences come back when blocks
  /// allow, each decoding sequence gets one position, filling ones share the prefill budget.
  std::vector<kernels::llama_decode_item> plan() {
    std::vector<kernels::llama_decode_item> items;
    item_adapters.clear();
    auto order = in_order(live);
    int64_t budget = cfg.prefill_chunk;
    for (std::size_t i = 0; i < order.size(); ++i) {
      sequence& s = *order[i];
      s.pending = 0;
      if (s.state == phase::swapped) {
        if (!reserve(order, i, s.prefilled, false)) {
          release(s); // not all of them: it waits, holding none
          continue;
        }
        copy_swap(s, false);
        s.swap_k = {};
        s.swap_v = {};
        s.state = phase::running;
      }
      if (s.blocks.empty() && s.prefilled == 0 && !s.looked_up)
        look_up_prefix(s);
      const int64_t todo = static_cast<int64_t>(s.context.size()) - s.prefilled;
      const bool decoding = todo == 1;
      int64_t n = decoding ? 1 : std::min(todo, budget);
      if (n <= 0)
        continue;
      if (!reserve(order, i, s.prefilled + n, decoding)) {
        if (decoding)
          continue;
        // A filling sequence takes what the blocks it got hold, and waits for the rest.
        n = static_cast<int64_t>(s.blocks.size()) * block_size() - s.prefilled;
        if (n <= 0)
          continue;
      }
      if (!decoding)
        budget -= n;
      const auto last = static_cast<int64_t>(s.context.size()) - 1;
      s.logits.resize(static_cast<std::size_t>(vocab()));
      for (int64_t p = s.prefilled; p < s.prefilled + n; ++p) {
        items.push_back({static_cast<int32_t>(s.context[p]), static_cast<int32_t>(p), view(s),
                         p == last ? s.logits.data() : nullptr});
        item_adapters.push_back(s.adapter < 0 ? nullptr : &adapters[s.adapter]->weights);
      }
      s.pending = n;
    }
    return items;
  }
};

batch_decoder::batch_decoder(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
batch_decoder::~batch_decoder() = default;

caf::expected<std::unique_ptr<batch_decoder>> batch_decoder::create(engine& e,
                                                                    const decoder_config& cfg) {
  auto& s = *e.impl_;
  auto* net = dynamic_cast<nn::llama_network*>(s.net.get());
  if (net == nullptr)
    return fail(s.spec, error_code::bad_params,
                "is a " + s.spec.architecture + " network; continuous batching runs llama models");
  if (!s.device.is_cpu())
    return fail(s.spec, error_code::bad_params,
                "is on " + s.device.str() +
                    ": continuous batching runs the fused CPU decode kernel over a paged cache "
                    "(no CUDA version yet); serve it on a cpu device or without continuous "
                    "batching");
  if (s.spec.precision != "f32" || !net->fused_decode_ok())
    return fail(s.spec, error_code::bad_params,
                "continuous batching needs float32 weights without unmerged adapters or int8 "
                "(merge adapters first)");
  if (cfg.block_size <= 0 || cfg.prefill_chunk <= 0 || cfg.pool_blocks < 0 || cfg.pool_bytes < 0)
    return fail(s.spec, error_code::bad_params,
                "kv cache: block_size and prefill_chunk must be positive, pool sizes not negative");
  auto p = std::make_unique<impl>();
  p->eng = &s;
  p->net = net;
  p->weights = net->decode_weights();
  p->cfg = cfg;
  const auto& w = p->weights;
  p->kv_dim = int64_t{w.dim} / w.n_heads * w.n_kv_heads;
  const int64_t context_blocks = (net->max_length() + cfg.block_size - 1) / cfg.block_size;
  // Keys and values of one block over every layer.
  const int64_t block_bytes =
      2 * int64_t{w.n_layers} * cfg.block_size * p->kv_dim * static_cast<int64_t>(sizeof(float));
  int64_t blocks = cfg.pool_blocks;
  if (blocks == 0 && cfg.pool_bytes > 0)
    blocks = cfg.pool_bytes / block_bytes;
  if (blocks == 0)
    blocks = std::max<int64_t>(std::min<int64_t>(64 * context_blocks, (256ll << 20) / block_bytes),
                               context_blocks);
  if (blocks < context_blocks)
    return fail(s.spec, error_code::bad_params,
                "kv cache: a pool of " + std::to_string(blocks) + " blocks of " +
                    std::to_string(cfg.block_size) + " positions cannot hold one full context (" +
                    std::to_string(net->max_length()) +
                    " positions: " + std::to_string(context_blocks) + " blocks, " +
                    std::to_string(context_blocks * block_bytes) + " bytes)");
  if (blocks > (int64_t{1} << 30))
    return fail(s.spec, error_code::bad_params, "kv cache: pool of too many blocks");
  try {
    p->pool = std::make_unique<kv_block_pool>(static_cast<int32_t>(blocks), cfg.block_size,
                                              p->kv_dim, w.n_layers);
  } catch (const std::bad_alloc&) {
    return fail(s.spec, error_code::bad_params,
                "kv cache: no memory for " + std::to_string(blocks * block_bytes) + " bytes");
  }
  return std::unique_ptr<batch_decoder>(new batch_decoder(std::move(p)));
}

caf::expected<uint64_t> batch_decoder::admit(const sequence_request& req) {
  auto& d = *impl_;
  auto& spec = d.eng->spec;
  if (auto err = validate(req.sampling, d.vocab()))
    return err;
  sequence s;
  if (d.eng->shape.bos_id >= 0)
    s.context.push_back(d.eng->shape.bos_id);
  for (auto t : req.prompt) {
    if (t < 0 || t >= d.vocab())
      return fail(spec, error_code::bad_params,
                  "prompt token " + std::to_string(t) + " is outside the vocabulary");
    s.context.push_back(t);
  }
  if (s.context.empty())
    return fail(spec, error_code::bad_params, "needs a prompt or a BOS token to start from");
  if (req.adapter < -1 || req.adapter >= static_cast<int32_t>(d.adapters.size()))
    return fail(spec, error_code::bad_params,
                "no adapter " + std::to_string(req.adapter) + " in this decoder");
  if (static_cast<int64_t>(s.context.size()) >= d.limit())
    return fail(spec, error_code::bad_params,
                "prompt of " + std::to_string(s.context.size()) +
                    " tokens leaves no room in the context of " + std::to_string(d.limit()));
  s.id = d.next_id++;
  s.order = d.next_order++;
  s.priority = req.priority;
  s.logprobs = std::min(req.logprobs, 20);
  s.adapter = req.adapter;
  s.chain = impl::chain_seed(s);
  s.max_new = req.max_new;
  s.sampling = req.sampling;
  s.rng.seed(req.seed);
  const auto id = s.id;
  d.live.emplace(id, std::move(s));
  return id;
}

caf::expected<std::vector<sequence_event>> batch_decoder::step() {
  auto& d = *impl_;
  std::vector<sequence_event> events;
  d.sample(events);
  auto items = d.plan();
  d.last_batch = 0;
  for (const auto& it : items)
    d.last_batch += it.logits != nullptr ? 1 : 0;
  // Without an adapter in the step, the kernel takes the base-only path.
  const bool adapted = std::any_of(d.item_adapters.begin(), d.item_adapters.end(),
                                   [](const auto* a) { return a != nullptr; });
  if (!items.empty())
    kernels::llama_decode(d.weights, items.data(), static_cast<int32_t>(items.size()), d.scratch,
                          adapted ? d.item_adapters.data() : nullptr);
  for (auto& [id, s] : d.live) {
    if (s.pending == 0)
      continue;
    s.prefilled += s.pending;
    s.pending = 0;
    d.publish_full_blocks(s);
    if (s.prefilled == static_cast<int64_t>(s.context.size())) {
      s.has_logits = true;
      s.state = phase::running;
    }
  }
  return events;
}

caf::expected<int32_t> batch_decoder::add_adapter(std::shared_ptr<const lora_adapter> adapter) {
  auto& d = *impl_;
  if (adapter == nullptr || !adapter->fits(d.weights))
    return fail(d.eng->spec, error_code::bad_params,
                "adapter '" + (adapter ? adapter->name : std::string{}) +
                    "' was taken over a network of another shape");
  d.adapters.push_back(std::move(adapter));
  return static_cast<int32_t>(d.adapters.size()) - 1;
}

bool batch_decoder::cancel(uint64_t id) {
  auto it = impl_->live.find(id);
  if (it == impl_->live.end())
    return false;
  impl_->release(it->second);
  impl_->live.erase(it);
  return true;
}

bool batch_decoder::set_priority(uint64_t id, int32_t priority) {
  auto it = impl_->live.find(id);
  if (it == impl_->live.end())
    return false;
  it->second.priority = priority;
  return true;
}

std::size_t batch_decoder::active() const {
  return impl_->live.size();
}

std::size_t batch_decoder::last_batch() const {
  return impl_->last_batch;
}

std::vector<sequence_info> batch_decoder::sequences() const {
  static const char* names[] = {"waiting", "running", "preempted", "swapped"};
  std::vector<sequence_info> out;
  for (const auto* s : impl::in_order(std::as_const(impl_->live)))
    out.push_back({s->id, s->priority, names[static_cast<int>(s->state)],
                   static_cast<int64_t>(s->context.size()), s->generated,
                   static_cast<int64_t>(s->blocks.size())});
  return out;
}

decoder_stats batch_decoder::stats() const {
  const auto& d = *impl_;
  decoder_stats st;
  for (const auto& [id, s] : d.live) {
    if (s.state == phase::running)
      ++st.running;
    else if (s.state == phase::waiting)
      ++st.waiting;
    else
      ++st.preempted;
  }
  st.blocks_total = d.pool->total();
  st.blocks_used = d.pool->used_blocks();
  st.block_size = d.pool->block_size();
  st.preemptions = d.preemptions;
  st.prefix_blocks = d.pool->reused_blocks();
  return st;
}

} // namespace llmos::model
