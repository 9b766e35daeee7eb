// One model replica's compute: the network, its optimizer and schedule, and everything done to
// it — train steps (with accumulation, clipping, NaN refusal), evaluation, batched inference,
// token generation, checkpoints, fine-tuning (frozen backbone or LoRA), int8 quantisation and
// bf16 autocast. Torch stays behind the pimpl: the actor and the tests that only drive it never
// include <torch/torch.h>. An engine is used from one thread at a time (the device's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/dataset.hpp"
#include "model/core/data_shape.hpp"
#include "model/core/label_vocab.hpp"
#include "model/core/metrics.hpp"
#include "model/core/model_spec.hpp"
#include "model/core/sampling.hpp"
#include "model/formats/llama_weights.hpp"

namespace llmos::model {

class gradient_group;
struct lora_adapter;

struct step_report {
  int64_t step = 0;       ///< optimizer steps taken so far
  double loss = 0.0;      ///< of this micro-batch
  double lr = 0.0;        ///< learning rate used
  double grad_norm = 0.0; ///< before clipping, 0 on micro-batches that did not step
  int64_t samples = 0;    ///< labelled samples (classifiers) or target tokens (LMs) used
  bool stepped = false;   ///< this micro-batch completed an optimizer step
};

struct eval_report {
  double loss = 0.0;              ///< mean per sample (classifiers) or per token (LMs)
  classification_metrics metrics; ///< classifiers
  double perplexity = 0.0;        ///< language models
  uint64_t count = 0;             ///< samples or tokens evaluated
  nlohmann::json to_json(const label_vocab& labels) const;
  /// The number early stopping watches: accuracy for classifiers, -perplexity for LMs.
  double score() const;
};

struct prediction {
  int64_t index = -1;
  std::string label;
  double confidence = 0.0;
  std::vector<float> probabilities;
};

class engine {
public:
  /// A fresh network for `spec` and `shape`, initialised from spec.seed. bad_config names the
  /// model and the cause.
  static caf::expected<std::unique_ptr<engine>> create(model_spec spec, data_shape shape,
                                                       label_vocab labels);

  /// Reads a checkpoint written by save(); a missing, corrupt or foreign file is refused with
  /// its path and the cause.
  static caf::expected<std::unique_ptr<engine>> load(const std::string& path);

  /// A llama network holding imported weights (any format's llama_weights): the spec named
  /// `name` with the weights' configuration, the data shape with the vocabulary's size and
  /// bos/eos. bad_config when the weights do not validate.
  static caf::expected<std::unique_ptr<engine>> from_llama(const llama_weights& weights,
                                                           const std::string& name);

  ~engine();

  /// The weights of a llama network as llama_weights (configuration and tensors; the vocabulary
  /// is left empty: it travels with the tokenizer). LoRA adapters are merged into the copy.
  /// bad_params for other architectures or an int8 network.
  caf::expected<llama_weights> to_llama() const;

  /// One micro-batch; an optimizer step every spec.accumulation micro-batches. A non-finite
  /// loss is refused (error naming the model and step) and the accumulated gradient dropped.
  caf::expected<step_report> train_step(const data_batch& batch);

  caf::expected<eval_report> evaluate(const std::vector<data_batch>& batches);

  /// Predictions for the rows of `inputs` (token ids i32 [B, T] or pixels u8 [B, H, W]).
  caf::expected<std::vector<prediction>> infer(const tensor_bytes& inputs);

  /// Continues `prompt` by up to `max_new` tokens (KV cache), calling on_token for each; stops
  /// early at EOS or when on_token returns false.
  caf::expected<std::vector<int32_t>> generate(const std::vector<int32_t>& prompt, int64_t max_new,
                                               const sampling_params& sampling, uint64_t seed,
                                               const std::function<bool(int32_t)>& on_token);

  /// Writes model, optimizer, step, RNG state, spec, data shape, labels and `cursor` (the
  /// caller's data position) to `path` atomically (temp file, fsync, rename).
  caf::error save(const std::string& path, const nlohmann::json& cursor = {}) const;
  const nlohmann::json& cursor() const { return cursor_; }

  /// Fine-tuning setup: "head" freezes everything but a new head (for `labels`), "lora" adds
  /// adapters of spec.lora_rank to every linear layer and trains only those (and the head of a
  /// classifier). Resets optimizer and schedule with the training fields of `training`.
  caf::error fine_tune(const std::string& mode, const model_spec& training, label_vocab labels);

  /// Takes the training fields of `training` (lr, schedule, steps, clipping, accumulation,
  /// evaluation, patience, precision) for the steps still to come, e.g. when a resumed run is
  /// given a new max_steps; the network and the optimizer's state stay.
  void update_training(const model_spec& training);

  /// Folds LoRA adapters into the weights (same outputs, plain matmuls).
  void merge_adapters();

  /// Dynamic int8 linear layers for inference; training is refused afterwards.
  caf::error quantize_int8();
  bool quantized() const;

  /// Moves the network and its optimizer state to device `type` ("cpu" or "cuda") `index`,
  /// where every later call computes: the device actor a job runs on places the engine there
  /// first. A partly accumulated gradient is dropped. bad_params for an unknown type, a GPU this
  /// LibTorch or machine lacks, or an int8 network on a GPU.
  caf::error place(const std::string& type, int32_t index);

  /// Where the engine computes: "cpu" or "cuda:N".
  std::string device() const;

  /// GPUs this LibTorch can compute on: 0 with Debian's CPU-only LibTorch or without a GPU.
  static int cuda_devices();

  /// Data-parallel: gradients averaged over `group` before every optimizer step.
  void join(std::shared_ptr<gradient_group> group);

  /// A flat copy of every parameter, for equivalence checks between replicas.
  std::vector<float> flat_parameters() const;
  int64_t parameter_count() const;

  /// LibTorch's GPU work on the calling thread goes to `stream` (a device actor's cudaStream_t on
  /// GPU `cuda_index`) until the scope ends, instead of LibTorch's default stream. Nothing for a
  /// null stream (a CPU device) or where LibTorch has no CUDA (built without LLMOS_TORCH_CUDA).
  class stream_scope {
  public:
    stream_scope(void* stream, int cuda_index);
    ~stream_scope();
    stream_scope(const stream_scope&) = delete;
    stream_scope& operator=(const stream_scope&) = delete;

  private:
    struct guard;
    std::unique_ptr<guard> guard_;
  };

  /// Sizes the calling thread's torch pool to `threads` and keeps OpenBLAS at one thread, so
  /// that a device's job never oversubscribes the cores it owns (called by device jobs).
  static void use_threads(uint32_t threads);

  const model_spec& spec() const;
  const data_shape& shape() const;
  const label_vocab& labels() const;
  int64_t step() const;

private:
  friend class batch_decoder; // continuous batching drives the same network and shape
  friend struct lora_adapter; // reads a fine-tune's adapters against its base
  struct impl;
  explicit engine(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  nlohmann::json cursor_;
};

} // namespace llmos::model
