#include "model/train/lora_adapter.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "model/nn/llama.hpp"
#include "model/train/engine_impl.hpp"

namespace llmos::model {

namespace {

bool same_shape(const kernels::llama_decode_weights& a, const kernels::llama_decode_weights& b) {
  return a.dim == b.dim && a.hidden_dim == b.hidden_dim && a.n_layers == b.n_layers &&
         a.n_heads == b.n_heads && a.n_kv_heads == b.n_kv_heads && a.vocab_size == b.vocab_size &&
         a.seq_len == b.seq_len;
}

/// The first weight of `tuned` outside its adapters that is not the base's own to the bit, if
/// any: the fine-tune then changed more than its adapters, or started from another base. The base
/// may be on a GPU (a replica placed there) and the fine-tune on the CPU (loaded to be taken):
/// each weight is compared where the base's is.
std::optional<std::string> differing_weight(const torch::nn::Module& base,
                                            const torch::nn::Module& tuned) {
  const auto base_params = base.named_parameters();
  for (const auto& item : tuned.named_parameters()) {
    if (item.key().find("lora_") != std::string::npos)
      continue;
    const auto* mine = base_params.find(item.key());
    if (mine == nullptr || !torch::equal(*mine, item.value().to(mine->device())))
      return item.key();
  }
  return std::nullopt;
}

/// Copies each layer's adapters into the adapter's own storage, which the decode kernel reads.
struct adapter_copy {
  lora_adapter& out;
  std::optional<double> scale; ///< the one scale every adapter of the model has

  /// The layer's adapters (an empty llama_lora for a layer without); nullopt when its scale is
  /// not the others'.
  std::optional<kernels::llama_lora> take(const nn::lora_linear& l) {
    if (!l->has_lora())
      return kernels::llama_lora{};
    if (scale && std::fabs(*scale - l->lora_scale()) > 1e-12)
      return std::nullopt;
    scale = l->lora_scale();
    auto params = l->lora_parameters();
    const auto rank = static_cast<int32_t>(params[0].size(0));
    out.rank = std::max(out.rank, rank);
    const float* a = copy(params[0]);
    return kernels::llama_lora{a, copy(params[1]), rank};
  }

  const float* copy(const torch::Tensor& m) {
    auto c = m.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    out.storage.emplace_back(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    out.floats += c.numel();
    return out.storage.back().data();
  }
};

} // namespace

caf::expected<std::shared_ptr<const lora_adapter>>
lora_adapter::extract(const engine& base, const engine& tuned, const std::string& name) {
  const auto& b = *base.impl_;
  const auto& t = *tuned.impl_;
  auto refuse = [&](const std::string& why) {
    return make_llmos_error(error_code::bad_params,
                            "adapter '" + name + "' over model '" + b.spec.name + "': " + why);
  };
  auto* bn = dynamic_cast<nn::llama_network*>(b.net.get());
  auto* tn = dynamic_cast<nn::llama_network*>(t.net.get());
  if (bn == nullptr || tn == nullptr)
    return refuse("adapters are served over llama models only");
  if (b.spec.precision != "f32" || t.spec.precision != "f32")
    return refuse("adapters are served over float32 weights only");
  if (!same_shape(bn->decode_weights(), tn->decode_weights()))
    return refuse("its network's shape differs from the base's");

  // Every weight but the adapters must be the base's own, to the bit: otherwise the fine-tune
  // changed more than its adapters (a full fine-tune) or started from another base.
  if (auto key = differing_weight(*b.net, *t.net))
    return refuse("weight '" + *key +
                  "' differs from the base's: a full fine-tune or one of another base, to be "
                  "served as a model of its own");

  auto out = std::make_shared<lora_adapter>();
  out->name = name;
  const auto shape = bn->decode_weights();
  out->dim = shape.dim;
  out->hidden_dim = shape.hidden_dim;
  out->n_layers = shape.n_layers;
  out->kv_dim = shape.dim / shape.n_heads * shape.n_kv_heads;
  auto linears = tn->linears(); // per block wq, wk, wv, wo, w1, w2, w3; then a separate head
  const auto layers = static_cast<std::size_t>(tn->decode_weights().n_layers);
  if (linears.size() > layers * 7 && linears.back()->has_lora())
    return refuse("it has an adapter on the classifier, which served adapters cannot carry");
  out->storage.reserve(layers * 14);
  adapter_copy copier{*out, std::nullopt};
  for (std::size_t i = 0; i < layers; ++i) {
    kernels::llama_block_adapter block;
    kernels::llama_lora* slots[] = {&block.wq, &block.wk, &block.wv, &block.wo,
                                    &block.w1, &block.w2, &block.w3};
    for (std::size_t j = 0; j < 7; ++j) {
      auto lora = copier.take(linears[i * 7 + j]);
      if (!lora)
        return refuse("its layers scale their adapters differently");
      *slots[j] = *lora;
    }
    out->weights.blocks.push_back(block);
  }
  if (!copier.scale)
    return refuse("it has no LoRA adapters (fine-tune it with lora_rank > 0, or serve it as a "
                  "model of its own)");
  out->weights.scale = static_cast<float>(*copier.scale);
  return std::shared_ptr<const lora_adapter>(std::move(out));
}

bool lora_adapter::fits(const kernels::llama_decode_weights& w) const {
  return dim == w.dim && hidden_dim == w.hidden_dim && n_layers == w.n_layers &&
         kv_dim == w.dim / w.n_heads * w.n_kv_heads;
}

} // namespace llmos::model
