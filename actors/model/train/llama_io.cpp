// Imported weights in, exported weights out: the bridge between the torch-free llama_weights
// picture (formats/) and an engine's llama network, by canonical tensor name.
#include "model/nn/llama.hpp"
#include "model/train/engine_impl.hpp"

namespace llmos::model {

namespace {

model_spec spec_of(const llama_config& c, const std::string& name) {
  model_spec s;
  s.name = name;
  s.architecture = "llama";
  s.vocab_size = c.vocab_size;
  s.embed_dim = c.dim;
  s.ff_dim = c.hidden_dim;
  s.layers = c.n_layers;
  s.heads = c.n_heads;
  s.kv_heads = c.n_kv_heads;
  s.max_length = c.seq_len;
  s.norm_eps = c.norm_eps;
  s.rope_theta = c.rope_theta;
  s.tied = c.tied ? 1 : 0;
  s.dropout = 0.0; // pretrained Llama models train without dropout
  // Fine-tuning a pretrained model wants a small step; the user overrides per run.
  s.lr = 1e-4;
  s.warmup_steps = 10;
  return s;
}

} // namespace

caf::expected<std::unique_ptr<engine>> engine::from_llama(const llama_weights& w,
                                                          const std::string& name) {
  if (auto err = validate(w, w.source.empty() ? "model '" + name + "'" : w.source))
    return err;
  data_shape shape;
  shape.vocab_size = w.config.vocab_size;
  shape.bos_id = w.vocab.bos;
  shape.eos_id = w.vocab.eos;
  // The LM loss ignores padded targets; Llama vocabularies rarely have a pad piece, and <unk>
  // never appears in text the byte-fallback tokenizer makes, so it pads.
  shape.pad_id = w.vocab.pad >= 0 ? w.vocab.pad : w.vocab.unk;
  auto spec = spec_of(w.config, name);
  spec.chat_template = w.chat_template;
  auto made = create(spec, shape, label_vocab{});
  if (!made)
    return std::move(made.error());
  auto& s = *(*made)->impl_;
  auto* net = dynamic_cast<nn::llama_network*>(s.net.get());
  try {
    torch::NoGradGuard no_grad;
    for (auto& [key, param] : net->canonical_tensors()) {
      const auto& src = w.tensors.at(key);
      param.copy_(
          torch::from_blob(const_cast<float*>(src.data.data()), src.shape, torch::kFloat32));
    }
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed,
                std::string("copying the imported weights failed: ") + e.what_without_backtrace());
  }
  return made;
}

caf::expected<llama_weights> engine::to_llama() const {
  auto& s = *impl_;
  auto* net = dynamic_cast<nn::llama_network*>(s.net.get());
  if (net == nullptr)
    return fail(s.spec, error_code::bad_params,
                "is a " + s.spec.architecture +
                    " network; only llama models export to llama formats");
  if (s.quantized)
    return fail(s.spec, error_code::bad_params, "is quantized to int8; export the float model");
  llama_weights w;
  auto& c = w.config;
  c.dim = s.spec.embed_dim;
  c.hidden_dim = s.spec.ff_dim;
  c.n_layers = s.spec.layers;
  c.n_heads = s.spec.heads;
  c.n_kv_heads = s.spec.kv_heads > 0 ? s.spec.kv_heads : s.spec.heads;
  c.vocab_size = s.shape.vocab_size;
  c.seq_len = s.spec.max_length;
  c.norm_eps = s.spec.norm_eps;
  c.rope_theta = s.spec.rope_theta;
  c.tied = s.spec.tied != 0;
  w.chat_template = s.spec.chat_template;
  try {
    torch::NoGradGuard no_grad;
    // LoRA adapters fold into the exported weights: what forward computes.
    std::map<const void*, torch::Tensor> merged;
    for (auto& lin : net->linears())
      if (lin->has_lora())
        merged[lin->base->weight.data_ptr()] = lin->merged_weight();
    for (auto& [key, param] : net->canonical_tensors()) {
      auto it = merged.find(param.data_ptr());
      auto t = (it == merged.end() ? param : it->second)
                   .detach()
                   .to(torch::kCPU, torch::kFloat32)
                   .contiguous();
      f32_tensor out;
      out.shape = t.sizes().vec();
      out.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
      w.tensors.emplace(key, std::move(out));
    }
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed, e.what_without_backtrace());
  }
  return w;
}

} // namespace llmos::model
