#include "model/train/batch_decoder.hpp"

#include <algorithm>
#include <utility>

#include "llmos/kernels/cuda_info.hpp"
#include "model/nn/llama.hpp"
#include "model/train/batch_decoder_impl.hpp"
#include "model/train/engine_impl.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::model {

using namespace decoder_detail;

batch_decoder::batch_decoder(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
batch_decoder::~batch_decoder() = default;

namespace {

/// Why the engine's network cannot be decoded in batches where it is (none: it can).
caf::error refusal(const model_spec& spec, const torch::Device& device, nn::llama_network* net,
                   const decoder_config& cfg) {
  if (net == nullptr)
    return fail(spec, error_code::bad_params,
                "is a " + spec.architecture + " network; continuous batching runs llama models");
  if (device.is_cuda() && !kernels::cuda_compiled())
    return fail(spec, error_code::bad_params,
                "is on " + device.str() +
                    ": this build of llmos has no CUDA kernels for continuous batching; serve it "
                    "without continuous batching");
  if (!device.is_cpu() && !device.is_cuda())
    return fail(spec, error_code::bad_params,
                "is on " + device.str() + ": continuous batching runs on cpu or cuda devices");
  if (spec.precision != "f32" || !net->fused_decode_ok())
    return fail(spec, error_code::bad_params,
                "continuous batching needs float32 weights without unmerged adapters or int8 "
                "(merge adapters first)");
  if (cfg.block_size <= 0 || cfg.prefill_chunk <= 0 || cfg.pool_blocks < 0 || cfg.pool_bytes < 0)
    return fail(spec, error_code::bad_params,
                "kv cache: block_size and prefill_chunk must be positive, pool sizes not negative");
  return {};
}

/// Blocks of the pool the config asks for (or the default), checked to hold one full context.
caf::expected<int64_t> pool_blocks(const model_spec& spec, const decoder_config& cfg,
                                   int64_t context, int64_t block_bytes) {
  const int64_t context_blocks = (context + cfg.block_size - 1) / cfg.block_size;
  int64_t blocks = cfg.pool_blocks;
  if (blocks == 0 && cfg.pool_bytes > 0)
    blocks = cfg.pool_bytes / block_bytes;
  if (blocks == 0)
    blocks = std::max<int64_t>(std::min<int64_t>(64 * context_blocks, (256ll << 20) / block_bytes),
                               context_blocks);
  if (blocks < context_blocks)
    return fail(spec, error_code::bad_params,
                "kv cache: a pool of " + std::to_string(blocks) + " blocks of " +
                    std::to_string(cfg.block_size) + " positions cannot hold one full context (" +
                    std::to_string(context) + " positions: " + std::to_string(context_blocks) +
                    " blocks, " + std::to_string(context_blocks * block_bytes) + " bytes)");
  if (blocks > (int64_t{1} << 30))
    return fail(spec, error_code::bad_params, "kv cache: pool of too many blocks");
  return blocks;
}

/// Host blocks of the swap space the config asks for: by default as many as the pool's, within
/// 4 GiB (vLLM's default swap space: pinned memory for a large GPU pool is the host's RAM).
caf::expected<int64_t> swap_blocks(const model_spec& spec, const decoder_config& cfg,
                                   int64_t pool_blocks, int64_t block_bytes) {
  if (cfg.swap_bytes < 0)
    return fail(spec, error_code::bad_params, "kv swap space: bytes must not be negative");
  const int64_t blocks =
      cfg.swap_bytes == 0
          ? std::max<int64_t>(std::min(pool_blocks, (int64_t{4} << 30) / block_bytes), 1)
          : cfg.swap_bytes / block_bytes;
  if (blocks == 0)
    return fail(spec, error_code::bad_params,
                "kv swap space: " + std::to_string(cfg.swap_bytes) + " bytes hold no block of " +
                    std::to_string(block_bytes) + " bytes (keys and values of " +
                    std::to_string(cfg.block_size) + " positions over every layer)");
  if (blocks > (int64_t{1} << 30))
    return fail(spec, error_code::bad_params, "kv swap space: too many blocks");
  return blocks;
}

} // namespace

caf::expected<std::unique_ptr<batch_decoder>> batch_decoder::create(engine& e,
                                                                    const decoder_config& cfg) {
  auto& s = *e.impl_;
  auto* net = dynamic_cast<nn::llama_network*>(s.net.get());
  if (auto err = refusal(s.spec, s.device, net, cfg))
    return err;
  auto p = std::make_unique<impl>();
  p->spec = &s.spec;
  p->shape = &s.shape;
  p->max_length = net->max_length();
  p->weights = net->decode_weights();
  p->cfg = cfg;
  p->device = s.device.str();
  const auto& w = p->weights;
  const int64_t kv_dim = int64_t{w.dim} / w.n_heads * w.n_kv_heads;
  // Keys and values of one block over every layer.
  const int64_t block_bytes =
      2 * int64_t{w.n_layers} * cfg.block_size * kv_dim * static_cast<int64_t>(sizeof(float));
  auto blocks = pool_blocks(s.spec, cfg, net->max_length(), block_bytes);
  if (!blocks)
    return std::move(blocks.error());
  try {
    p->pool = std::make_unique<kv_block_pool>(static_cast<int32_t>(*blocks), cfg.block_size, kv_dim,
                                              w.n_layers, s.device.is_cpu());
  } catch (const std::bad_alloc&) {
    return fail(s.spec, error_code::bad_params,
                "kv cache: no memory for " + std::to_string(*blocks * block_bytes) + " bytes");
  }
  p->keys = p->pool->keys();
  p->values = p->pool->values();
  if (cfg.swap)
    if (auto err = p->make_swap_space(*blocks, block_bytes))
      return err;
  if (s.device.is_cuda())
    p->gpu_index = s.device.index(); // its pool is made at the first step, on the device
  return std::unique_ptr<batch_decoder>(new batch_decoder(std::move(p)));
}

caf::error batch_decoder::impl::make_swap_space(int64_t pool_blocks, int64_t block_bytes) {
  auto hosted = swap_blocks(*spec, cfg, pool_blocks, block_bytes);
  if (!hosted)
    return std::move(hosted.error());
  swap_space = std::make_unique<kv_swap_space>(static_cast<int32_t>(*hosted));
  if (device != "cpu")
    return {}; // pinned, with the GPU's pool
  try {
    // Not zeroed, like the pool: a host block is always written before it is read.
    swap_host.reset(new float[static_cast<std::size_t>(*hosted * block_bytes) / sizeof(float)]);
  } catch (const std::bad_alloc&) {
    return fail(*spec, error_code::bad_params,
                "kv swap space: no memory for " + std::to_string(*hosted * block_bytes) + " bytes");
  }
  swap_memory = swap_host.get();
  return {};
}

std::string batch_decoder::impl::ensure_gpu_pool() {
  if (gpu_index < 0 || gpu)
    return {};
  const auto floats = static_cast<std::size_t>(pool->floats());
  if (auto err = kernels::llama_paged_cuda::create(gpu_index, floats, &gpu); !err.empty())
    return "kv cache of " + std::to_string(2 * floats * sizeof(float)) + " bytes: " + err;
  keys = gpu->keys();
  values = gpu->values();
  if (swap_space) {
    const auto hosted = static_cast<std::size_t>(swap_space->total()) *
                        static_cast<std::size_t>(kernels::kv_host_block_floats(layout()));
    if (auto err = gpu->host_memory(hosted, &swap_memory); !err.empty()) {
      gpu.reset();
      return "kv swap space: " + err;
    }
  }
  return {};
}

caf::error batch_decoder::follow(engine& e) {
  if (e.device() == impl_->device) {
    // The same device, maybe not the same memory: a checkpoint of a GPU model is written from
    // the host, and its weights come back in new allocations. An engine changed in place so
    // that it cannot be decoded now (quantized, adapters added while sequences run) keeps the
    // float weights its running sequences started on: they go on over those.
    auto& s = *e.impl_;
    auto* net = dynamic_cast<nn::llama_network*>(s.net.get());
    if (!refusal(s.spec, s.device, net, impl_->cfg))
      impl_->weights = net->decode_weights();
    return {};
  }
  if (!impl_->live.empty())
    return fail(*impl_->spec, error_code::bad_params,
                "moved from " + impl_->device + " to " + e.device() + " while " +
                    std::to_string(impl_->live.size()) + " sequences decode there");
  auto made = create(e, impl_->cfg);
  if (!made)
    return std::move(made.error());
  for (auto& a : impl_->adapters)
    if (auto added = (*made)->add_adapter(a); !added)
      return std::move(added.error());
  auto& next = *(*made)->impl_;
  // Ids stay unique across the move (a cancel may still name an earlier one).
  next.next_id = impl_->next_id;
  next.next_order = impl_->next_order;
  next.preemptions = impl_->preemptions;
  impl_ = std::move((*made)->impl_);
  return {};
}

const std::string& batch_decoder::device() const {
  return impl_->device;
}

caf::expected<uint64_t> batch_decoder::admit(const sequence_request& req) {
  auto& d = *impl_;
  auto& spec = *d.spec;
  if (auto err = validate(req.sampling, d.vocab()))
    return err;
  sequence s;
  if (d.shape->bos_id >= 0)
    s.context.push_back(d.shape->bos_id);
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
  if (auto err = d.ensure_gpu_pool(); !err.empty())
    return fail(*d.spec, error_code::kernel_failed, "on " + d.device + ": " + err);
  std::vector<sequence_event> events;
  d.sample(events);
  auto items = d.plan();
  if (auto err = d.run(items); !err.empty())
    return fail(*d.spec, error_code::kernel_failed, "decode step on " + d.device + ": " + err);
  d.last_batch = 0;
  for (const auto& it : items)
    d.last_batch += it.logits != nullptr ? 1 : 0;
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
    return fail(*d.spec, error_code::bad_params,
                "adapter '" + (adapter ? adapter->name : std::string{}) +
                    "' was taken over a network of another shape");
  d.adapters.push_back(std::move(adapter));
  return static_cast<int32_t>(d.adapters.size()) - 1;
}

bool batch_decoder::cancel(uint64_t id) {
  auto it = impl_->live.find(id);
  if (it == impl_->live.end())
    return false;
  impl_->drop(it->second);
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
  st.swaps = d.swaps;
  if (d.swap_space) {
    st.swap_blocks_total = d.swap_space->total();
    st.swap_blocks_used = d.swap_space->used();
  }
  return st;
}

} // namespace llmos::model
