// The engine's generation for language models: prefill in LibTorch, then token by token in the
// fused decode kernel (kernels/cpu/llama_decode.*) where the network allows it, or in LibTorch.
#include "model/train/engine_impl.hpp"

#include <optional>
#include <random>

#include "llmos/kernels/llama_decode.hpp"
#include "model/core/sampling.hpp"
#include "model/nn/llama.hpp"

namespace llmos::model {

namespace {

/// What generation starts from: BOS (when the vocabulary has one) and the prompt, every token
/// in the vocabulary, with room left in the context of `limit` tokens.
caf::expected<std::vector<int64_t>> generation_context(const model_spec& spec,
                                                       const data_shape& shape, int64_t limit,
                                                       const std::vector<int32_t>& prompt) {
  std::vector<int64_t> context;
  if (shape.bos_id >= 0)
    context.push_back(shape.bos_id);
  for (auto t : prompt) {
    if (t < 0 || t >= shape.vocab_size)
      return fail(spec, error_code::bad_params,
                  "prompt token " + std::to_string(t) + " is outside the vocabulary");
    context.push_back(t);
  }
  if (context.empty())
    return fail(spec, error_code::bad_params, "needs a prompt or a BOS token to start from");
  if (static_cast<int64_t>(context.size()) >= limit)
    return fail(spec, error_code::bad_params,
                "prompt of " + std::to_string(context.size()) +
                    " tokens leaves no room in the context of " + std::to_string(limit));
  return context;
}

/// The last position's logits on the host as contiguous floats (sampling reads them there).
torch::Tensor last_logits(const torch::Tensor& logits) {
  return logits[0][logits.size(1) - 1].to(torch::kCPU, torch::kFloat32).contiguous();
}

/// The fused kernel's side of decoding one sequence, on the cache LibTorch's prefill filled.
struct fused_step {
  fused_step(nn::llama_network& net, std::size_t vocab) : weights(net.decode_weights()) {
    scratch.reserve(weights, 1);
    logits.resize(vocab);
  }

  /// Decodes `token` at position `length`; the next logits.
  const float* decode(int64_t token, int64_t length, std::vector<nn::kv_cache>& caches) {
    const int64_t layer_stride = caches[0].k.numel();
    kernels::llama_decode_item item{
        static_cast<int32_t>(token),
        static_cast<int32_t>(length),
        {caches[0].k.data_ptr<float>(), caches[0].v.data_ptr<float>(), layer_stride},
        logits.data()};
    kernels::llama_decode(weights, &item, 1, scratch);
    for (auto& c : caches)
      c.length = length + 1;
    return logits.data();
  }

  kernels::llama_decode_weights weights;
  kernels::llama_decode_scratch scratch;
  std::vector<float> logits;
};

} // namespace

caf::expected<std::vector<int32_t>> engine::generate(const std::vector<int32_t>& prompt,
                                                     int64_t max_new,
                                                     const sampling_params& sampling, uint64_t seed,
                                                     const std::function<bool(int32_t)>& on_token) {
  auto& s = *impl_;
  if (!s.is_lm())
    return fail(s.spec, error_code::bad_params, "is a classifier: use infer");
  if (auto err = validate(sampling, s.shape.vocab_size))
    return err;
  const int64_t limit = s.net->max_length();
  auto prefix = generation_context(s.spec, s.shape, limit, prompt);
  if (!prefix)
    return prefix.error();
  const auto& context = *prefix;
  try {
    torch::NoGradGuard no_grad;
    s.net->eval();
    std::mt19937_64 rng(seed);
    std::vector<nn::kv_cache> caches;
    std::vector<int32_t> out;
    // Prefill in LibTorch (one batched forward over the prompt); decode token by token in the
    // fused kernel when the network allows it, on the same preallocated cache.
    auto logits = s.net->forward_cached(
        torch::tensor(context, torch::kLong).unsqueeze(0).to(s.device), caches);
    auto last = last_logits(logits);
    const float* row = last.data_ptr<float>();
    const auto vocab = static_cast<std::size_t>(last.numel());
    std::optional<fused_step> fused;
    if (auto* llama = dynamic_cast<nn::llama_network*>(s.net.get());
        llama && s.device.is_cpu() && s.spec.precision == "f32" && llama->fused_decode_ok())
      fused.emplace(*llama, vocab);
    std::vector<float> adjusted;
    int64_t length = static_cast<int64_t>(context.size());
    for (int64_t i = 0; i < max_new && length < limit; ++i) {
      const auto token =
          sample_token(adjusted_logits(row, vocab, sampling, out.data(), out.size(), adjusted),
                       vocab, sampling, rng);
      if (token < 0 || token == s.shape.eos_id)
        break;
      out.push_back(static_cast<int32_t>(token));
      if (on_token && !on_token(static_cast<int32_t>(token)))
        break;
      if (i + 1 == max_new)
        break; // nothing more to sample: skip the forward
      if (fused) {
        row = fused->decode(token, length, caches);
      } else {
        logits = s.net->forward_cached(
            torch::tensor({token}, torch::kLong).unsqueeze(0).to(s.device), caches);
        last = last_logits(logits);
        row = last.data_ptr<float>();
      }
      ++length;
    }
    return out;
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed, e.what_without_backtrace());
  }
}

} // namespace llmos::model
