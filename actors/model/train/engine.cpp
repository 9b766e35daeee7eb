#include "model/train/engine_impl.hpp"

#include <cmath>
#include <dlfcn.h>
#include <mutex>

#include "llmos/runtime/log.hpp"
#include "model/nn/int8_linear.hpp"
#include "model/nn/llama.hpp"

namespace llmos::model {

engine::engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
engine::~engine() = default;

caf::expected<std::unique_ptr<engine>> engine::create(model_spec spec, data_shape shape,
                                                      label_vocab labels) {
  if (spec.vocab_size > 0)
    shape.vocab_size = spec.vocab_size;
  if (spec.num_classes > 0)
    shape.num_classes = spec.num_classes;
  if (!is_language_model(spec.architecture) && shape.num_classes == 0)
    shape.num_classes = static_cast<int64_t>(labels.size());
  auto p = std::make_unique<impl>();
  p->spec = std::move(spec);
  p->shape = shape;
  p->labels = std::move(labels);
  torch::manual_seed(p->spec.seed);
  if (auto err = p->build_network())
    return err;
  p->build_optimizer();
  return std::unique_ptr<engine>(new engine(std::move(p)));
}

caf::expected<step_report> engine::train_step(const data_batch& batch) {
  auto& s = *impl_;
  if (s.quantized)
    return fail(s.spec, error_code::bad_params,
                "is quantized to int8 for inference; train the float model");
  try {
    s.net->train();
    auto out = s.forward_loss(batch);
    if (!out)
      return std::move(out.error());
    step_report r;
    r.samples = out->count;
    r.step = s.step;
    // Data-parallel replicas step together: one with nothing to learn from this batch (or a
    // non-finite loss) still takes part, with no gradients of its own, or the others would wait
    // for it in the all-reduce and the replicas would drift apart.
    const bool grouped = s.group && s.group->world() > 1;
    if (out->count == 0 && !grouped)
      return r; // nothing labelled in this batch
    if (out->count > 0) {
      const double loss = out->loss.item<double>();
      if (std::isfinite(loss)) {
        (out->loss / static_cast<double>(s.spec.accumulation)).backward();
        r.loss = loss;
      } else if (auto err = s.dropped_update(loss, grouped); !grouped) {
        return err;
      } else {
        log_warning(describe(err)); // the group goes on without this replica's gradients
      }
    }
    if (++s.micro < s.spec.accumulation)
      return r;
    s.micro = 0;
    if (auto err = s.sync_gradients()) {
      s.optimizer->zero_grad(); // the next step starts from its own gradients only
      return err;
    }
    s.apply_update(r);
    return r;
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed, e.what_without_backtrace());
  }
}

caf::expected<eval_report> engine::evaluate(const std::vector<data_batch>& batches) {
  auto& s = *impl_;
  try {
    torch::NoGradGuard no_grad;
    s.net->eval();
    eval_report r;
    double total = 0.0;
    std::vector<int64_t> truth, predicted;
    for (auto& b : batches) {
      auto out = s.forward_loss(b);
      if (!out)
        return std::move(out.error());
      if (out->count == 0)
        continue;
      total += out->loss.item<double>() * static_cast<double>(out->count);
      r.count += static_cast<uint64_t>(out->count);
      if (!s.is_lm()) {
        auto pred = out->logits.argmax(1).to(torch::kCPU);
        auto ys = s.lm_targets.to(torch::kCPU);
        for (int64_t i = 0; i < pred.size(0); ++i) {
          const auto y = ys[i].item<int64_t>();
          if (y == ignore_label)
            continue;
          truth.push_back(y);
          predicted.push_back(pred[i].item<int64_t>());
        }
      }
    }
    r.loss = r.count ? total / static_cast<double>(r.count) : 0.0;
    if (s.is_lm()) {
      r.perplexity = perplexity(total, r.count);
    } else {
      auto m = classify_metrics(truth, predicted, s.shape.num_classes);
      if (!m)
        return std::move(m.error());
      r.metrics = std::move(*m);
    }
    return r;
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed, e.what_without_backtrace());
  }
}

caf::expected<std::vector<prediction>> engine::infer(const tensor_bytes& inputs) {
  auto& s = *impl_;
  if (s.is_lm())
    return fail(s.spec, error_code::bad_params, "is a language model: use generate");
  try {
    torch::NoGradGuard no_grad;
    s.net->eval();
    auto x = s.inputs(inputs);
    if (!x)
      return std::move(x.error());
    torch::Tensor probs;
    {
      autocast_scope cast(s.spec.precision == "bf16", s.device);
      probs =
          torch::softmax(s.net->forward(*x).to(torch::kFloat32), 1).to(torch::kCPU).contiguous();
    }
    std::vector<prediction> out(static_cast<std::size_t>(probs.size(0)));
    const auto classes = probs.size(1);
    for (int64_t i = 0; i < probs.size(0); ++i) {
      auto& p = out[static_cast<std::size_t>(i)];
      const float* row = probs[i].data_ptr<float>();
      p.probabilities.assign(row, row + classes);
      p.index = std::max_element(row, row + classes) - row;
      p.confidence = row[p.index];
      if (p.index < static_cast<int64_t>(s.labels.size()))
        p.label = s.labels.name(p.index);
    }
    return out;
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed, e.what_without_backtrace());
  }
}

caf::error engine::fine_tune(const std::string& mode, const model_spec& training,
                             label_vocab labels) {
  auto& s = *impl_;
  if (mode != "head" && mode != "lora" && mode != "full")
    return fail(s.spec, error_code::bad_params,
                "fine-tune mode '" + mode + "' is unknown (use head, lora or full)");
  if (mode == "lora" && training.lora_rank <= 0)
    return fail(s.spec, error_code::bad_params, "LoRA fine-tuning needs lora_rank > 0");
  try {
    const std::string name = s.spec.name;
    auto arch = s.spec;
    s.spec = training;
    // The network's shape stays what it was trained as.
    s.spec.name = name;
    s.spec.architecture = arch.architecture;
    s.spec.chat_template = arch.chat_template; // how its prompts are written, not how it trains
    s.spec.vocab_size = arch.vocab_size;
    s.spec.embed_dim = arch.embed_dim;
    s.spec.hidden_dim = arch.hidden_dim;
    s.spec.layers = arch.layers;
    s.spec.heads = arch.heads;
    s.spec.ff_dim = arch.ff_dim;
    s.spec.kv_heads = arch.kv_heads;
    s.spec.norm_eps = arch.norm_eps;
    s.spec.rope_theta = arch.rope_theta;
    s.spec.tied = arch.tied;
    s.spec.max_length = arch.max_length;
    s.spec.conv_channels = arch.conv_channels;
    s.spec.image_size = arch.image_size;
    // full: every weight keeps training from where it is (the feedback loop's fine-tune);
    // head and lora train only the head or the low-rank adapters.
    s.spec.freeze = mode == "full" ? "" : "backbone";
    s.spec.lora_rank = mode == "lora" ? training.lora_rank : 0;
    if (!s.is_lm() && labels.size() >= 2 && labels.labels() != s.labels.labels()) {
      s.labels = std::move(labels);
      s.shape.num_classes = static_cast<int64_t>(s.labels.size());
      s.net->replace_head(s.shape.num_classes);
    } else if (!s.is_lm() && mode == "head") {
      s.net->replace_head(s.shape.num_classes);
    }
    s.spec.num_classes = s.shape.num_classes;
    if (!s.device.is_cpu()) // a new head is made on the CPU
      s.net->to(s.device);
    if (mode == "lora")
      for (auto& lin : s.net->linears())
        if (!s.is_head(lin) && !lin->has_lora())
          lin->enable_lora(s.spec.lora_rank, s.spec.lora_alpha);
    s.step = 0;
    s.micro = 0;
    s.build_optimizer();
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed, e.what_without_backtrace());
  }
  return {};
}

void engine::update_training(const model_spec& t) {
  auto& s = impl_->spec;
  s.lr = t.lr;
  s.max_steps = t.max_steps;
  s.warmup_steps = t.warmup_steps;
  s.min_lr_ratio = t.min_lr_ratio;
  s.clip_norm = t.clip_norm;
  s.accumulation = t.accumulation;
  s.batch_size = t.batch_size;
  s.eval_every = t.eval_every;
  s.patience = t.patience;
  s.precision = t.precision;
}

void engine::merge_adapters() {
  for (auto& lin : impl_->net->linears())
    lin->merge_lora();
  impl_->spec.lora_rank = 0;
  impl_->build_optimizer();
}

caf::error engine::quantize_int8() {
  auto& s = *impl_;
  if (!s.device.is_cpu())
    return fail(s.spec, error_code::bad_params,
                "is on " + s.device.str() +
                    ": int8 layers use LibTorch's CPU-only quantized operators; quantize it on a "
                    "cpu device");
  if (!nn::select_int8_engine())
    return fail(s.spec, error_code::kernel_failed, "this LibTorch has no int8 engine");
  try {
    for (auto& lin : s.net->linears())
      lin->quantize_int8();
    s.spec.lora_rank = 0;
    s.quantized = true;
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed, e.what_without_backtrace());
  }
  return {};
}

caf::error engine::place(const std::string& type, int32_t index) {
  auto& s = *impl_;
  if (type != "cpu" && type != "cuda")
    return fail(s.spec, error_code::bad_params,
                "device type '" + type + "' is unknown (use cpu or cuda)");
  const torch::Device to = type == "cuda" ? torch::Device(torch::kCUDA, static_cast<int8_t>(index))
                                          : torch::Device(torch::kCPU);
  if (to == s.device)
    return {};
  if (to.is_cuda()) {
    if (!torch::cuda::is_available())
      return fail(s.spec, error_code::bad_params,
                  "cannot run on cuda:" + std::to_string(index) +
                      ": this LibTorch has no CUDA or the machine no GPU (Debian's LibTorch is "
                      "CPU-only; build against a CUDA LibTorch, tools/gpu/gpu-check.sh)");
    if (index < 0 || index >= static_cast<int32_t>(torch::cuda::device_count()))
      return fail(s.spec, error_code::bad_params,
                  "cannot run on cuda:" + std::to_string(index) + ": the machine has " +
                      std::to_string(torch::cuda::device_count()) + " GPU(s)");
    if (s.quantized)
      return fail(s.spec, error_code::bad_params,
                  "is quantized to int8 (CPU-only operators): it cannot move to a GPU");
  }
  try {
    s.move_to(to);
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed,
                "moving to " + to.str() + " failed: " + e.what_without_backtrace());
  }
  return {};
}

std::string engine::device() const {
  return impl_->device.str();
}

int engine::cuda_devices() {
  return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

bool engine::quantized() const {
  return impl_->quantized;
}

void engine::join(std::shared_ptr<gradient_group> group) {
  impl_->group = std::move(group);
}

std::vector<float> engine::flat_parameters() const {
  std::vector<float> out;
  for (auto& p : impl_->net->parameters()) {
    auto c = p.detach().to(torch::kCPU).contiguous();
    out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

int64_t engine::parameter_count() const {
  int64_t n = 0;
  for (auto& p : impl_->net->parameters())
    n += p.numel();
  return n;
}

void engine::use_threads(uint32_t threads) {
  static std::once_flag blas_once;
  std::call_once(blas_once, [] {
    // OpenBLAS would start a thread per core on top of torch's pool (measured: 690 -> 170 steps/s
    // on 2 cores). The symbol exists only when OpenBLAS is the BLAS in use.
    using set_fn = void (*)(int);
    if (auto set = reinterpret_cast<set_fn>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
      set(1);
  });
  if (threads > 0 && at::get_num_threads() != static_cast<int>(threads))
    at::set_num_threads(static_cast<int>(threads));
}

const model_spec& engine::spec() const {
  return impl_->spec;
}
const data_shape& engine::shape() const {
  return impl_->shape;
}
const label_vocab& engine::labels() const {
  return impl_->labels;
}
int64_t engine::step() const {
  return impl_->step;
}

nlohmann::json eval_report::to_json(const label_vocab& labels) const {
  nlohmann::json j{{"loss", loss}, {"count", count}};
  if (perplexity > 0)
    j["perplexity"] = perplexity;
  else
    j["metrics"] = metrics.to_json(labels.labels());
  return j;
}

double eval_report::score() const {
  return perplexity > 0 ? -perplexity : metrics.accuracy;
}

} // namespace llmos::model
