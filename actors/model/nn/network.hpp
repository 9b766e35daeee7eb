// The network interface every architecture implements, and the factory that builds one from a
// model spec. Torch-only header (see blocks.hpp).
#pragma once

#include <memory>
#include <vector>

#include <caf/expected.hpp>
#include <torch/torch.h>

#include "model/core/data_shape.hpp"
#include "model/core/model_spec.hpp"
#include "model/nn/blocks.hpp"

namespace llmos::model::nn {

enum class task_kind { classify, language_model };

class network : public torch::nn::Module {
public:
  ~network() override = default;
  virtual task_kind task() const = 0;

  /// Classifiers: tokens [B, T] (long) or images [B, 1, H, W] (float) -> logits [B, C].
  /// Language models: tokens [B, T] -> next-token logits [B, T, V].
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;

  /// The parameters a backbone-frozen fine-tune trains.
  virtual std::vector<torch::Tensor> head_parameters() = 0;

  /// Classifiers: a fresh head for `classes` labels (fine-tuning on a new label set).
  virtual void replace_head(int64_t classes) = 0;

  /// Every linear layer of the network (LoRA targets, int8 quantisation).
  virtual std::vector<lora_linear> linears() = 0;

  /// Language models: logits for `tokens` [B, T] continuing the cached positions.
  virtual torch::Tensor forward_cached(const torch::Tensor& tokens, std::vector<kv_cache>& caches);

  /// Longest input the network accepts (position table), 0 for no limit.
  virtual int64_t max_length() const { return 0; }
};

/// Builds the spec's architecture for `shape` (vocabulary, classes, padding, image size).
/// bad_config names the model and what is missing or unknown.
caf::expected<std::shared_ptr<network>> make_network(const model_spec& spec,
                                                     const data_shape& shape);

} // namespace llmos::model::nn
