// The continuous-batching decoder's schedule: which sequences run in a step and with how many
// positions, who gives up blocks when the pool runs dry (swapped out or recomputed later), the
// prefix cache's lookups and publications, and sampling from the logits a step left.
#include <optional>
#include <utility>

#include "model/core/sampling.hpp"
#include "model/train/batch_decoder_impl.hpp"

namespace llmos::model {

uint64_t batch_decoder::impl::chain_seed(const sequence& s) {
  if (s.adapter < 0)
    return 0;
  const int64_t tag[] = {-1, s.adapter};
  return kv_block_pool::chain(0, tag, 2);
}

kernels::llama_kv_view batch_decoder::impl::view(sequence& s) {
  return {keys, values, pool->layer_stride(), s.blocks.data(), pool->block_size()};
}

void batch_decoder::impl::release(sequence& s) {
  for (auto b : s.blocks)
    pool->release(b);
  s.blocks.clear();
}

void batch_decoder::impl::drop(sequence& s) {
  release(s);
  if (!s.swap_blocks.empty())
    swap_space->release(std::exchange(s.swap_blocks, {}));
}

kernels::kv_pool_layout batch_decoder::impl::layout() const {
  return {keys, values, pool->layer_stride(), pool->block_floats(), weights.n_layers};
}

void batch_decoder::impl::copy_swap(sequence& s, bool out) {
  std::vector<kernels::kv_block_copy> copies;
  for (std::size_t i = 0; i < s.swap_blocks.size(); ++i)
    copies.push_back({s.blocks[i], s.swap_blocks[i]});
  const auto count = static_cast<int32_t>(copies.size());
  if (!gpu)
    kernels::kv_swap_blocks(layout(), swap_memory, copies.data(), count, out);
  else if (auto err = gpu->swap(layout(), swap_memory, copies.data(), count, out);
           !err.empty() && device_error.empty())
    device_error = err;
}

std::string batch_decoder::impl::run(std::vector<kernels::llama_decode_item>& items) {
  if (!device_error.empty())
    return "swapping a cache: " + std::exchange(device_error, {});
  if (items.empty())
    return {};
  const auto count = static_cast<int32_t>(items.size());
  // Without an adapter in the step, the kernel takes the base-only path.
  const bool adapted = std::any_of(item_adapters.begin(), item_adapters.end(),
                                   [](const auto* a) { return a != nullptr; });
  if (gpu) {
    for (; gpu_adapters < adapters.size(); ++gpu_adapters) {
      int32_t index = -1;
      if (auto err = gpu->add_adapter(weights, adapters[gpu_adapters]->weights, &index);
          !err.empty())
        return "adapter '" + adapters[gpu_adapters]->name + "': " + err;
    }
    return gpu->step(weights, items.data(), count, adapted ? item_adapter_ids.data() : nullptr);
  }
  kernels::llama_decode(weights, items.data(), count, scratch,
                        adapted ? item_adapters.data() : nullptr);
  return {};
}

void batch_decoder::impl::preempt(sequence& s) {
  if (s.state == phase::swapped) // blocks it was getting to come back in: its cache is out
    return release(s);
  ++preemptions;
  // The blocks holding its cache: the first `held` of its table (one preempted while reserving
  // for this step may hold more, for positions it never computed).
  const auto held = static_cast<int32_t>((s.prefilled + block_size() - 1) / block_size());
  std::optional<std::vector<int32_t>> hosted;
  if (swap_space && s.prefilled > 0 && held <= static_cast<int32_t>(s.blocks.size()))
    hosted = swap_space->allocate(held);
  if (hosted) {
    s.swap_blocks = std::move(*hosted);
    copy_swap(s, true);
    ++swaps;
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

bool batch_decoder::impl::reserve(std::vector<sequence*>& order, std::size_t at, int64_t upto,
                                  bool or_self) {
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
    // Filling a prompt (or coming back from a swap), a sequence takes blocks from lower
    // priorities only: among equals it waits for free ones rather than preempt a running
    // sequence, which would then come back and preempt in turn.
    if (victim != nullptr && (or_self || victim->priority < s.priority)) {
      preempt(*victim);
      continue;
    }
    if (or_self)
      preempt(s);
    return false;
  }
  return true;
}

void batch_decoder::impl::look_up_prefix(sequence& s) {
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

void batch_decoder::impl::publish_full_blocks(sequence& s) {
  const int64_t bs = block_size();
  while ((s.published + 1) * bs <= s.prefilled) {
    const int64_t* tokens = s.context.data() + s.published * bs;
    pool->publish(s.chain, tokens, s.blocks[s.published]);
    s.chain = kv_block_pool::chain(s.chain, tokens, static_cast<int32_t>(bs));
    ++s.published;
  }
}

void batch_decoder::impl::sample(std::vector<sequence_event>& events) {
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
    if (s.logprobs >= 0 && token >= 0 && token != shape->eos_id)
      ev.logprobs =
          logprobs_of(s.logits.data(), s.logits.size(), static_cast<int32_t>(token), s.logprobs);
    if (token < 0 || token == shape->eos_id) {
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
    drop(live.at(id));
    live.erase(id);
  }
}

std::vector<kernels::llama_decode_item> batch_decoder::impl::plan() {
  std::vector<kernels::llama_decode_item> items;
  item_adapters.clear();
  item_adapter_ids.clear();
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
      // Its host blocks may take another cache at once: on a GPU every swap is ordered on the
      // copy stream, so a later copy out lands after this copy in has read them.
      swap_space->release(std::exchange(s.swap_blocks, {}));
      // Preempted while filling its prompt, it goes on filling.
      const bool prompt_in =
          s.generated > 0 || s.prefilled == static_cast<int64_t>(s.context.size());
      s.state = prompt_in ? phase::running : phase::waiting;
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
      item_adapter_ids.push_back(s.adapter);
    }
    s.pending = n;
  }
  return items;
}

} // namespace llmos::model
