// The engine's state, shared by its translation units (engine.cpp: training, evaluation,
// inference, generation; checkpoint.cpp: save and load). Torch-only and private to the model
// library: everyone else sees train/engine.hpp.
#pragma once

#include <memory>
#include <vector>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "llmos/messages/error.hpp"
#include "model/core/lr_schedule.hpp"
#include "model/nn/network.hpp"
#include "model/train/engine.hpp"
#include "model/train/foreach_adamw.hpp"
#include "model/train/gradient_group.hpp"

namespace llmos::model {

namespace detail {

constexpr int64_t ignore_label = -100;

inline caf::error fail(const model_spec& s, error_code code, const std::string& what) {
  return make_llmos_error(code, "model '" + s.name + "': " + what);
}

// LibTorch 2.4 replaced the per-backend autocast switches (set_cpu_enabled, set_enabled for
// CUDA) by ones taking the device type; Debian's 1.13 has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define LLMOS_AUTOCAST_BY_DEVICE 1
#endif

/// Turns on bf16 autocast for one scope, on the device the engine computes on, when the spec
/// asks for it. Autocast state is thread-local: set inside the device's job, never ahead.
class autocast_scope {
public:
  autocast_scope(bool on, const torch::Device& device) : on_(on), type_(device.type()) {
    if (on_)
      set(true);
  }
  ~autocast_scope() {
    if (on_) {
      set(false);
      at::autocast::clear_cache();
    }
  }
  autocast_scope(const autocast_scope&) = delete;
  autocast_scope& operator=(const autocast_scope&) = delete;

private:
  void set(bool enabled) {
#ifdef LLMOS_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_enabled(type_, enabled);
    if (enabled)
      at::autocast::set_autocast_dtype(type_, at::kBFloat16);
#else
    if (type_ == at::kCUDA) {
      at::autocast::set_enabled(enabled);
      if (enabled)
        at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_cpu_enabled(enabled);
      if (enabled)
        at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
#endif
  }
  bool on_;
  at::DeviceType type_;
};

} // namespace detail

using detail::autocast_scope;
using detail::fail;
using detail::ignore_label;

struct engine::impl {
  model_spec spec;
  data_shape shape;
  label_vocab labels;
  std::shared_ptr<nn::network> net;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<torch::Tensor> trainable;
  int64_t step = 0;
  int64_t micro = 0; ///< micro-batches accumulated towards the next step
  bool quantized = false;
  std::shared_ptr<gradient_group> group;
  torch::Device device{torch::kCPU}; ///< where the network and its optimizer state live

  /// Moves the network and the optimizer's state to `to`. Gradients are dropped (placement
  /// happens between steps) unless `keep_grads` (a checkpoint's round trip to the host).
  void move_to(const torch::Device& to, bool keep_grads = false) {
    if (!keep_grads) {
      for (auto& p : net->parameters())
        if (p.grad().defined())
          p.mutable_grad() = torch::Tensor();
      micro = 0;
    }
    net->to(to);
    auto move = [&](const torch::Tensor& t) { return t.defined() ? t.to(to) : t; };
    for (auto& item : optimizer->state()) {
      if (auto* a = dynamic_cast<torch::optim::AdamWParamState*>(item.second.get())) {
        a->exp_avg(move(a->exp_avg()));
        a->exp_avg_sq(move(a->exp_avg_sq()));
        a->max_exp_avg_sq(move(a->max_exp_avg_sq()));
      } else if (auto* m = dynamic_cast<torch::optim::SGDParamState*>(item.second.get())) {
        m->momentum_buffer(move(m->momentum_buffer()));
      }
    }
    device = to;
  }

  bool is_lm() const { return net->task() == nn::task_kind::language_model; }

  caf::error build_network() {
    auto made = nn::make_network(spec, shape);
    if (!made)
      return std::move(made.error());
    net = std::move(*made);
    if (spec.lora_rank > 0)
      for (auto& lin : net->linears())
        if (lin.get() != nullptr && !is_head(lin))
          lin->enable_lora(spec.lora_rank, spec.lora_alpha);
    return {};
  }

  bool is_head(const nn::lora_linear& lin) {
    for (auto& p : net->head_parameters())
      if (p.is_same(lin->base->weight))
        return true;
    return false;
  }

  /// Chooses what trains (spec.freeze, LoRA) and builds the optimizer over it.
  void build_optimizer() {
    trainable.clear();
    const bool lora = spec.lora_rank > 0;
    const bool frozen = spec.freeze == "backbone" || lora;
    if (!frozen) {
      trainable = net->parameters();
    } else {
      for (auto& p : net->parameters())
        p.set_requires_grad(false);
      auto keep = [&](const torch::Tensor& p) {
        p.set_requires_grad(true);
        trainable.push_back(p);
      };
      if (lora)
        for (auto& lin : net->linears())
          for (auto& p : lin->lora_parameters())
            keep(p);
      if (!is_lm() || !lora)
        for (auto& p : net->head_parameters())
          keep(p);
    }
    if (spec.optimizer == "sgd")
      optimizer =
          std::make_unique<torch::optim::SGD>(trainable, torch::optim::SGDOptions(spec.lr)
                                                             .momentum(spec.momentum)
                                                             .weight_decay(spec.weight_decay));
    else
      optimizer = std::make_unique<foreach_adamw>(
          trainable, torch::optim::AdamWOptions(spec.lr).weight_decay(spec.weight_decay));
  }

  void set_lr(double lr) {
    for (auto& group : optimizer->param_groups())
      group.options().set_lr(lr);
  }

  /// Inputs as the network takes them; refuses shapes and ids that do not fit.
  caf::expected<torch::Tensor> inputs(const tensor_bytes& t) {
    int64_t n = 1;
    for (auto d : t.shape)
      n *= d;
    if (spec.architecture == "cnn") {
      if (t.dtype != "u8" || t.shape.size() != 3 || t.shape[1] != shape.image_size ||
          t.shape[2] != shape.image_size)
        return fail(spec, error_code::bad_params,
                    "expects u8 images [batch, " + std::to_string(shape.image_size) + ", " +
                        std::to_string(shape.image_size) + "], got " + t.dtype + " " +
                        describe_shape(t.shape));
      if (static_cast<int64_t>(t.data.size()) != n)
        return fail(spec, error_code::bad_params, "image bytes do not match the shape");
      auto x = torch::from_blob(const_cast<char*>(t.data.data()), t.shape, torch::kUInt8)
                   .to(torch::kFloat32)
                   .div(255.0)
                   .unsqueeze(1);
      // Fashion-MNIST's pixel mean and deviation: inputs near zero mean, unit scale.
      return to_device((x - 0.286) / 0.353);
    }
    if (t.dtype != "i32" || t.shape.size() != 2)
      return fail(spec, error_code::bad_params,
                  "expects i32 token ids [batch, length], got " + t.dtype + " " +
                      describe_shape(t.shape));
    if (static_cast<int64_t>(t.data.size()) != n * 4)
      return fail(spec, error_code::bad_params, "token bytes do not match the shape");
    auto x =
        torch::from_blob(const_cast<char*>(t.data.data()), t.shape, torch::kInt32).to(torch::kLong);
    if (x.numel() > 0) {
      const auto hi = x.max().item<int64_t>();
      const auto lo = x.min().item<int64_t>();
      if (lo < 0 || hi >= shape.vocab_size)
        return fail(spec, error_code::bad_params,
                    "token id " + std::to_string(lo < 0 ? lo : hi) +
                        " is outside the vocabulary [0, " + std::to_string(shape.vocab_size) + ")");
    }
    const auto limit = net->max_length();
    if (limit > 0 && x.size(1) > limit)
      x = x.narrow(1, 0, limit);
    return to_device(x);
  }

  /// A host tensor on the engine's device: on a GPU through pinned memory, copied asynchronously
  /// on the job's stream (kernels after it on that stream wait for it; the host goes on preparing
  /// the rest of the step). LibTorch's pinned-memory allocator keeps the staging block until the
  /// copy is done.
  torch::Tensor to_device(const torch::Tensor& t) const {
    if (!device.is_cuda())
      return t.to(device);
    return t.pin_memory().to(device, /*non_blocking=*/true);
  }

  static std::string describe_shape(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i)
      out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }

  caf::expected<torch::Tensor> targets(const data_batch& b, int64_t rows) {
    if (static_cast<int64_t>(b.labels.size()) != rows)
      return fail(spec, error_code::bad_params,
                  "batch has " + std::to_string(rows) + " rows but " +
                      std::to_string(b.labels.size()) + " labels");
    std::vector<int64_t> ids;
    ids.reserve(b.labels.size());
    for (auto& label : b.labels) {
      if (label.empty()) {
        ids.push_back(ignore_label); // unlabelled records teach nothing here
        continue;
      }
      auto i = labels.index(label);
      if (!i)
        return fail(spec, error_code::bad_params, describe(i.error()));
      ids.push_back(*i);
    }
    return to_device(torch::tensor(ids, torch::kLong));
  }

  struct loss_out {
    torch::Tensor loss; ///< mean over counted items
    torch::Tensor logits;
    int64_t count = 0;
  };

  /// Token ids [B, T] without the columns after every row's last real token. They change no
  /// counted loss (a position sees only earlier ones; padded targets are ignored), and a data
  /// set pads each record to the context (512 for stories260K): short records cost a tenth.
  /// (With dropout the masks drawn differ with the shape: equal in distribution, not bits.)
  torch::Tensor without_trailing_padding(const torch::Tensor& x) const {
    if (x.size(1) <= 2)
      return x;
    const auto used = x.ne(shape.pad_id).any(0).nonzero();
    const int64_t width = used.numel() == 0 ? 0 : used[-1].item<int64_t>() + 1;
    return width >= x.size(1) ? x : x.narrow(1, 0, std::max<int64_t>(width, 2));
  }

  caf::expected<loss_out> forward_loss(const data_batch& b) {
    auto x = inputs(b.inputs);
    if (!x)
      return std::move(x.error());
    autocast_scope cast(spec.precision == "bf16", device);
    loss_out out;
    if (is_lm()) {
      *x = without_trailing_padding(*x);
      if (x->size(1) < 2)
        return fail(spec, error_code::bad_params, "a language model needs sequences of 2+ tokens");
      auto in = x->narrow(1, 0, x->size(1) - 1);
      auto target = x->narrow(1, 1, x->size(1) - 1).clone();
      target.masked_fill_(target.eq(shape.pad_id), ignore_label);
      out.logits = net->forward(in);
      out.count = target.ne(ignore_label).sum().item<int64_t>();
      out.loss = torch::nn::functional::cross_entropy(
          out.logits.reshape({-1, out.logits.size(-1)}).to(torch::kFloat32), target.reshape({-1}),
          torch::nn::functional::CrossEntropyFuncOptions().ignore_index(ignore_label));
    } else {
      auto y = targets(b, x->size(0));
      if (!y)
        return std::move(y.error());
      out.logits = net->forward(*x);
      out.count = y->ne(ignore_label).sum().item<int64_t>();
      out.loss = torch::nn::functional::cross_entropy(
          out.logits.to(torch::kFloat32), *y,
          torch::nn::functional::CrossEntropyFuncOptions().ignore_index(ignore_label));
      out.logits = out.logits.to(torch::kFloat32);
      lm_targets = *y;
    }
    return out;
  }
  torch::Tensor lm_targets; ///< the classifier targets of the last forward_loss

  /// A non-finite loss: this replica's gradients so far are dropped (alone, the whole update
  /// is; in a data-parallel group the others' still count). The error that says so.
  caf::error dropped_update(double loss, bool grouped) {
    optimizer->zero_grad();
    if (!grouped)
      micro = 0;
    return fail(spec, error_code::kernel_failed,
                "loss is " + std::to_string(loss) + " at step " + std::to_string(step) + " (lr " +
                    std::to_string(optimizer->param_groups()[0].options().get_lr()) + "); " +
                    (grouped ? "this replica's gradients were dropped from the update"
                             : "the update was dropped") +
                    " — lower lr or check the data");
  }

  /// The optimizer step after the gradients are in (and averaged): schedule, clipping, update.
  void apply_update(step_report& r) {
    lr_schedule schedule(spec.lr, spec.warmup_steps, spec.max_steps, spec.min_lr_ratio);
    r.lr = schedule.at(step);
    set_lr(r.lr);
    if (spec.clip_norm > 0)
      r.grad_norm = torch::nn::utils::clip_grad_norm_(trainable, spec.clip_norm);
    optimizer->step();
    optimizer->zero_grad();
    r.step = ++step;
    r.stepped = true;
  }

  caf::error sync_gradients() {
    if (!group || group->world() < 2)
      return {};
    std::vector<torch::Tensor> grads;
    for (auto& p : trainable)
      grads.push_back(p.grad().defined() ? p.grad().reshape({-1})
                                         : torch::zeros({p.numel()}, p.options()));
    if (auto err = group->connect(device.is_cuda() ? "cuda" : "cpu",
                                  device.is_cuda() ? device.index() : 0))
      return err;
    // NCCL averages in the GPU's memory; Gloo in host memory (a GPU's gradients go through it).
    auto flat = torch::cat(grads).contiguous();
    if (group->backend() != "nccl")
      flat = flat.to(torch::kCPU);
    if (auto err = group->average(flat.data_ptr<float>(), static_cast<std::size_t>(flat.numel())))
      return err;
    int64_t at = 0;
    for (auto& p : trainable) {
      auto slice = flat.narrow(0, at, p.numel()).view(p.sizes()).to(p.device());
      if (p.grad().defined())
        p.mutable_grad().copy_(slice);
      else
        p.mutable_grad() = slice.clone();
      at += p.numel();
    }
    return {};
  }
};

} // namespace llmos::model
