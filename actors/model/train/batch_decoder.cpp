#include "model/train/batch_decoder.hpp"

#include <deque>
#include <map>
#include <random>

#include "model/nn/llama.hpp"
#include "model/train/engine_impl.hpp"

namespace llmos::model {

namespace {

/// One sequence: its context so far, its own cache and generator.
struct sequence {
  uint64_t id = 0;
  std::vector<int64_t> context; ///< BOS, prompt, then generated tokens
  int64_t prefilled = 0;        ///< positions of the context in the cache
  int64_t generated = 0;
  int64_t max_new = 0;
  sampling_params sampling;
  std::mt19937_64 rng;
  std::vector<nn::kv_cache> cache;
  std::vector<float> logits; ///< of the last position in the cache
  bool ready = false;        ///< the whole prompt is in the cache: it decodes
};

} // namespace

struct batch_decoder::impl {
  engine::impl* eng = nullptr;
  nn::llama_network* net = nullptr;
  kernels::llama_decode_weights weights;
  kernels::llama_decode_scratch scratch;
  int64_t prefill_chunk = 64;
  uint64_t next_id = 1;
  std::map<uint64_t, sequence> live; ///< by id: admission order
  std::size_t last_batch = 0;

  int64_t vocab() const { return eng->shape.vocab_size; }
  int64_t limit() const { return net->max_length(); }

  /// Up to prefill_chunk prompt positions of `s` through LibTorch into its cache.
  void prefill(sequence& s) {
    const auto todo = static_cast<int64_t>(s.context.size()) - s.prefilled;
    const auto n = std::min(todo, prefill_chunk);
    auto chunk = torch::tensor(std::vector<int64_t>(s.context.begin() + s.prefilled,
                                                    s.context.begin() + s.prefilled + n),
                               torch::kLong)
                     .unsqueeze(0);
    auto out = net->forward_cached(chunk, s.cache);
    s.prefilled += n;
    if (s.prefilled == static_cast<int64_t>(s.context.size())) {
      auto last = out[0][n - 1].to(torch::kFloat32).contiguous();
      s.logits.assign(last.data_ptr<float>(), last.data_ptr<float>() + last.numel());
      s.ready = true;
    }
  }
};

batch_decoder::batch_decoder(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
batch_decoder::~batch_decoder() = default;

caf::expected<std::unique_ptr<batch_decoder>> batch_decoder::create(engine& e,
                                                                    int64_t prefill_chunk) {
  auto& s = *e.impl_;
  auto* net = dynamic_cast<nn::llama_network*>(s.net.get());
  if (net == nullptr)
    return fail(s.spec, error_code::bad_params,
                "is a " + s.spec.architecture + " network; continuous batching runs llama models");
  if (s.spec.precision != "f32" || !net->fused_decode_ok())
    return fail(s.spec, error_code::bad_params,
                "continuous batching needs float32 weights without unmerged adapters or int8 "
                "(merge adapters first)");
  auto p = std::make_unique<impl>();
  p->eng = &s;
  p->net = net;
  p->weights = net->decode_weights();
  p->prefill_chunk = std::max<int64_t>(prefill_chunk, 1);
  return std::unique_ptr<batch_decoder>(new batch_decoder(std::move(p)));
}

caf::expected<uint64_t> batch_decoder::admit(const sequence_request& req) {
  auto& d = *impl_;
  auto& spec = d.eng->spec;
  if (auto err = validate(req.sampling))
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
  if (static_cast<int64_t>(s.context.size()) >= d.limit())
    return fail(spec, error_code::bad_params,
                "prompt of " + std::to_string(s.context.size()) +
                    " tokens leaves no room in the context of " + std::to_string(d.limit()));
  s.id = d.next_id++;
  s.max_new = req.max_new;
  s.sampling = req.sampling;
  s.rng.seed(req.seed);
  try {
    s.cache = d.net->make_cache(1);
  } catch (const c10::Error& e) {
    return fail(spec, error_code::kernel_failed, e.what_without_backtrace());
  }
  const auto id = s.id;
  d.live.emplace(id, std::move(s));
  return id;
}

caf::expected<std::vector<sequence_event>> batch_decoder::step() {
  auto& d = *impl_;
  std::vector<sequence_event> events;
  try {
    torch::NoGradGuard no_grad;
    d.net->eval();
    // Prefill: one chunk per step across the waiting sequences, oldest first.
    int64_t budget = d.prefill_chunk;
    for (auto& [id, s] : d.live) {
      if (s.ready || budget <= 0)
        continue;
      const auto before = s.prefilled;
      d.prefill(s);
      budget -= s.prefilled - before;
    }
    // Sample every ready sequence's next token, then decode them all in one kernel call.
    std::vector<kernels::llama_decode_item> items;
    std::vector<uint64_t> order;
    std::vector<uint64_t> done;
    for (auto& [id, s] : d.live) {
      if (!s.ready)
        continue;
      const auto token = sample_token(s.logits.data(), s.logits.size(), s.sampling, s.rng);
      const auto pos = static_cast<int64_t>(s.context.size());
      sequence_event ev{id, -1, false, ""};
      if (token < 0 || token == d.eng->shape.eos_id) {
        ev.finished = true;
        ev.reason = "stop";
      } else {
        ev.token = static_cast<int32_t>(token);
        s.context.push_back(token);
        ++s.generated;
        if (s.generated >= s.max_new || pos + 1 >= d.limit()) {
          ev.finished = true;
          ev.reason = "length";
        }
      }
      events.push_back(ev);
      if (ev.finished) {
        done.push_back(id);
        continue;
      }
      const int64_t layer_stride = s.cache[0].k.numel();
      items.push_back(
          {static_cast<int32_t>(token),
           static_cast<int32_t>(pos),
           {s.cache[0].k.data_ptr<float>(), s.cache[0].v.data_ptr<float>(), layer_stride},
           s.logits.data()});
      order.push_back(id);
    }
    for (auto id : done)
      d.live.erase(id);
    d.last_batch = items.size();
    if (!items.empty())
      kernels::llama_decode(d.weights, items.data(), static_cast<int32_t>(items.size()), d.scratch);
    for (auto id : order) {
      auto& s = d.live.at(id);
      for (auto& c : s.cache)
        c.length = static_cast<int64_t>(s.context.size());
    }
  } catch (const c10::Error& e) {
    return fail(d.eng->spec, error_code::kernel_failed, e.what_without_backtrace());
  }
  return events;
}

bool batch_decoder::cancel(uint64_t id) {
  return impl_->live.erase(id) > 0;
}

std::size_t batch_decoder::active() const {
  return impl_->live.size();
}

std::size_t batch_decoder::last_batch() const {
  return impl_->last_batch;
}

} // namespace llmos::model
