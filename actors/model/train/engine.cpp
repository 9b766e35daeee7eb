#include "model/train/engine.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <mutex>
#include <torch/torch.h>
#include <unistd.h>

#include "llmos/messages/error.hpp"
#include "model/core/lr_schedule.hpp"
#include "model/nn/int8_linear.hpp"
#include "model/nn/network.hpp"
#include "model/train/gradient_group.hpp"

namespace llmos::model {

namespace {

constexpr int64_t ignore_label = -100;
constexpr const char* checkpoint_magic = "llmos-checkpoint-1";

caf::error fail(const model_spec& s, error_code code, const std::string& what) {
  return make_llmos_error(code, "model '" + s.name + "': " + what);
}

/// Turns on CPU bf16 autocast for one scope when the spec asks for it.
class autocast_scope {
public:
  explicit autocast_scope(bool on) : on_(on) {
    if (on_) {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
  }
  ~autocast_scope() {
    if (on_) {
      at::autocast::set_cpu_enabled(false);
      at::autocast::clear_cache();
    }
  }
  autocast_scope(const autocast_scope&) = delete;
  autocast_scope& operator=(const autocast_scope&) = delete;

private:
  bool on_;
};

torch::Tensor bytes_tensor(std::string bytes) {
  auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

std::string tensor_string(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.numel()));
}

} // namespace

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
      optimizer = std::make_unique<torch::optim::AdamW>(
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
      return (x - 0.286) / 0.353;
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
    return x;
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
    return torch::tensor(ids, torch::kLong);
  }

  struct loss_out {
    torch::Tensor loss; ///< mean over counted items
    torch::Tensor logits;
    int64_t count = 0;
  };

  caf::expected<loss_out> forward_loss(const data_batch& b) {
    auto x = inputs(b.inputs);
    if (!x)
      return std::move(x.error());
    autocast_scope cast(spec.precision == "bf16");
    loss_out out;
    if (is_lm()) {
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

  caf::error sync_gradients() {
    if (!group || group->world() < 2)
      return {};
    std::vector<torch::Tensor> grads;
    for (auto& p : trainable)
      grads.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}));
    auto flat = torch::cat(grads).contiguous();
    if (auto err = group->average(flat.data_ptr<float>(), static_cast<std::size_t>(flat.numel())))
      return err;
    int64_t at = 0;
    for (auto& p : trainable) {
      auto slice = flat.narrow(0, at, p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(slice);
      else
        p.mutable_grad() = slice.clone();
      at += p.numel();
    }
    return {};
  }
};

engine::engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
engine::~engine() = default;

caf::expected<std::unique_ptr<engine>> engine::create(model_spec spec, data_shape shape,
                                                      label_vocab labels) {
  if (spec.vocab_size > 0)
    shape.vocab_size = spec.vocab_size;
  if (spec.num_classes > 0)
    shape.num_classes = spec.num_classes;
  if (spec.architecture != "gpt" && shape.num_classes == 0)
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
    if (out->count == 0)
      return r; // nothing labelled in this batch
    const double loss = out->loss.item<double>();
    if (!std::isfinite(loss)) {
      s.optimizer->zero_grad();
      s.micro = 0;
      return fail(s.spec, error_code::kernel_failed,
                  "loss is " + std::to_string(loss) + " at step " + std::to_string(s.step) +
                      " (lr " + std::to_string(s.optimizer->param_groups()[0].options().get_lr()) +
                      "); the update was dropped — lower lr or check the data");
    }
    (out->loss / static_cast<double>(s.spec.accumulation)).backward();
    r.loss = loss;
    if (++s.micro < s.spec.accumulation)
      return r;
    s.micro = 0;
    if (auto err = s.sync_gradients())
      return err;
    lr_schedule schedule(s.spec.lr, s.spec.warmup_steps, s.spec.max_steps, s.spec.min_lr_ratio);
    r.lr = schedule.at(s.step);
    s.set_lr(r.lr);
    if (s.spec.clip_norm > 0)
      r.grad_norm = torch::nn::utils::clip_grad_norm_(s.trainable, s.spec.clip_norm);
    s.optimizer->step();
    s.optimizer->zero_grad();
    r.step = ++s.step;
    r.stepped = true;
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
        auto pred = out->logits.argmax(1);
        for (int64_t i = 0; i < pred.size(0); ++i) {
          const auto y = s.lm_targets[i].item<int64_t>();
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
      autocast_scope cast(s.spec.precision == "bf16");
      probs = torch::softmax(s.net->forward(*x).to(torch::kFloat32), 1).contiguous();
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

caf::expected<std::vector<int32_t>> engine::generate(const std::vector<int32_t>& prompt,
                                                     int64_t max_new,
                                                     const sampling_params& sampling, uint64_t seed,
                                                     const std::function<bool(int32_t)>& on_token) {
  auto& s = *impl_;
  if (!s.is_lm())
    return fail(s.spec, error_code::bad_params, "is a classifier: use infer");
  if (auto err = validate(sampling))
    return err;
  std::vector<int64_t> context;
  if (s.shape.bos_id >= 0)
    context.push_back(s.shape.bos_id);
  for (auto t : prompt) {
    if (t < 0 || t >= s.shape.vocab_size)
      return fail(s.spec, error_code::bad_params,
                  "prompt token " + std::to_string(t) + " is outside the vocabulary");
    context.push_back(t);
  }
  if (context.empty())
    return fail(s.spec, error_code::bad_params, "needs a prompt or a BOS token to start from");
  const int64_t limit = s.net->max_length();
  if (static_cast<int64_t>(context.size()) >= limit)
    return fail(s.spec, error_code::bad_params,
                "prompt of " + std::to_string(context.size()) +
                    " tokens leaves no room in the context of " + std::to_string(limit));
  try {
    torch::NoGradGuard no_grad;
    s.net->eval();
    std::mt19937_64 rng(seed);
    std::vector<nn::kv_cache> caches;
    std::vector<int32_t> out;
    auto logits = s.net->forward_cached(torch::tensor(context, torch::kLong).unsqueeze(0), caches);
    int64_t length = static_cast<int64_t>(context.size());
    for (int64_t i = 0; i < max_new && length < limit; ++i) {
      auto last = logits[0][logits.size(1) - 1].to(torch::kFloat32).contiguous();
      const auto token = sample_token(last.data_ptr<float>(),
                                      static_cast<std::size_t>(last.numel()), sampling, rng);
      if (token < 0 || token == s.shape.eos_id)
        break;
      out.push_back(static_cast<int32_t>(token));
      if (on_token && !on_token(static_cast<int32_t>(token)))
        break;
      logits = s.net->forward_cached(torch::tensor({token}, torch::kLong).unsqueeze(0), caches);
      ++length;
    }
    return out;
  } catch (const c10::Error& e) {
    return fail(s.spec, error_code::kernel_failed, e.what_without_backtrace());
  }
}

caf::error engine::save(const std::string& path, const nlohmann::json& cursor) const {
  auto& s = *impl_;
  const std::string tmp = path + ".tmp";
  try {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    nlohmann::json meta{{"magic", checkpoint_magic},
                        {"spec", to_yaml(s.spec)},
                        {"labels", s.labels.labels()},
                        {"step", s.step},
                        {"quantized", s.quantized},
                        {"cursor", cursor},
                        {"shape",
                         {{"vocab_size", s.shape.vocab_size},
                          {"num_classes", s.shape.num_classes},
                          {"pad_id", s.shape.pad_id},
                          {"bos_id", s.shape.bos_id},
                          {"eos_id", s.shape.eos_id},
                          {"image_size", s.shape.image_size}}}};
    if (s.quantized)
      return fail(s.spec, error_code::bad_params,
                  "is quantized: int8 packed weights are not saved; save before quantizing");
    torch::serialize::OutputArchive archive;
    archive.write("llmos_meta", bytes_tensor(meta.dump()));
    torch::serialize::OutputArchive model_archive, optim_archive;
    s.net->save(model_archive);
    s.optimizer->save(optim_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optim_archive);
    auto gen = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      archive.write("rng", gen.get_state());
    }
    archive.save_to(tmp);
    // Make the bytes durable before the rename publishes them: a crash leaves either the old
    // checkpoint or the new one, never a torn file under the real name.
    int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    std::filesystem::rename(tmp, path);
    auto dir = std::filesystem::path(path).parent_path();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  } catch (const std::exception& e) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return fail(s.spec, error_code::io_failed,
                "writing checkpoint '" + path + "' failed: " + e.what());
  }
  return {};
}

caf::expected<std::unique_ptr<engine>> engine::load(const std::string& path) {
  auto refuse = [&](const std::string& why) {
    return make_llmos_error(error_code::bad_config, "checkpoint '" + path + "': " + why);
  };
  if (!std::filesystem::exists(path))
    return refuse("no such file");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::Tensor meta_bytes;
    if (!archive.try_read("llmos_meta", meta_bytes))
      return refuse("not an llmos checkpoint (no llmos_meta record)");
    auto meta = nlohmann::json::parse(tensor_string(meta_bytes), nullptr, false);
    if (meta.is_discarded() || meta.value("magic", "") != checkpoint_magic)
      return refuse("not an llmos checkpoint (unknown header)");
    auto spec = parse_model_spec(meta.at("spec").get<std::string>(), path + "#spec");
    if (!spec)
      return refuse(describe(spec.error()));
    data_shape shape;
    auto& j = meta.at("shape");
    shape.vocab_size = j.at("vocab_size");
    shape.num_classes = j.at("num_classes");
    shape.pad_id = j.at("pad_id");
    shape.bos_id = j.at("bos_id");
    shape.eos_id = j.at("eos_id");
    shape.image_size = j.at("image_size");
    auto made =
        create(*spec, shape, label_vocab(meta.at("labels").get<std::vector<std::string>>()));
    if (!made)
      return refuse(describe(made.error()));
    auto& s = *(*made)->impl_;
    torch::serialize::InputArchive model_archive, optim_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optim_archive);
    s.net->load(model_archive);
    s.optimizer->load(optim_archive);
    s.step = meta.at("step");
    torch::Tensor rng;
    archive.read("rng", rng);
    auto gen = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng);
    }
    (*made)->cursor_ = meta.value("cursor", nlohmann::json{});
    return made;
  } catch (const c10::Error& e) {
    return refuse(std::string("corrupt or unreadable: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return refuse(std::string("corrupt or unreadable: ") + e.what());
  }
}

caf::error engine::fine_tune(const std::string& mode, const model_spec& training,
                             label_vocab labels) {
  auto& s = *impl_;
  if (mode != "head" && mode != "lora")
    return fail(s.spec, error_code::bad_params,
                "fine-tune mode '" + mode + "' is unknown (use head or lora)");
  if (mode == "lora" && training.lora_rank <= 0)
    return fail(s.spec, error_code::bad_params, "LoRA fine-tuning needs lora_rank > 0");
  try {
    const std::string name = s.spec.name;
    auto arch = s.spec;
    s.spec = training;
    // The network's shape stays what it was trained as.
    s.spec.name = name;
    s.spec.architecture = arch.architecture;
    s.spec.vocab_size = arch.vocab_size;
    s.spec.embed_dim = arch.embed_dim;
    s.spec.hidden_dim = arch.hidden_dim;
    s.spec.layers = arch.layers;
    s.spec.heads = arch.heads;
    s.spec.ff_dim = arch.ff_dim;
    s.spec.max_length = arch.max_length;
    s.spec.conv_channels = arch.conv_channels;
    s.spec.image_size = arch.image_size;
    s.spec.freeze = "backbone";
    s.spec.lora_rank = mode == "lora" ? training.lora_rank : 0;
    if (!s.is_lm() && labels.size() >= 2 && labels.labels() != s.labels.labels()) {
      s.labels = std::move(labels);
      s.shape.num_classes = static_cast<int64_t>(s.labels.size());
      s.net->replace_head(s.shape.num_classes);
    } else if (!s.is_lm() && mode == "head") {
      s.net->replace_head(s.shape.num_classes);
    }
    s.spec.num_classes = s.shape.num_classes;
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

bool engine::quantized() const {
  return impl_->quantized;
}

void engine::join(std::shared_ptr<gradient_group> group) {
  impl_->group = std::move(group);
}

std::vector<float> engine::flat_parameters() const {
  std::vector<float> out;
  for (auto& p : impl_->net->parameters()) {
    auto c = p.detach().contiguous();
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
