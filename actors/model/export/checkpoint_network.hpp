// A checkpoint's network on its own, the way the exporters see it: restored as engine::load
// restores it (and checked against the engine parameter by parameter), LoRA adapters folded
// into the weights, in eval mode without gradients. Also the one place that turns inputs in
// their wire form (token ids [B, T], u8 pixels [B, H, W]) into what the network's forward takes,
// so the traced TorchScript module and the tests start from the same bytes the engine gets.
// Torch-only header: for the exporter and its tests; everyone else includes export.hpp.
#pragma once

#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <torch/torch.h>

#include "model/core/data_shape.hpp"
#include "model/core/label_vocab.hpp"
#include "model/core/model_spec.hpp"
#include "model/nn/network.hpp"

namespace llmos::model {

/// Fashion-MNIST's pixel mean and deviation, as engine_impl.hpp's inputs() scales images.
constexpr double pixel_mean = 0.286;
constexpr double pixel_deviation = 0.353;

struct checkpoint_network {
  model_spec spec;
  data_shape shape;
  label_vocab labels;
  int64_t step = 0;
  std::shared_ptr<nn::network> net;
};

/// Reads `path` (a checkpoint engine::save wrote). Leaves the process's RNG state as it was.
/// Errors: engine::load's (missing, corrupt, foreign file), kernel_failed when the restored
/// weights differ from the engine's.
caf::expected<checkpoint_network> load_checkpoint_network(const std::string& path);

/// The network's input for `wire`: integer token ids -> long; u8 pixels [B, H, W] -> scaled
/// float images [B, 1, H, W].
torch::Tensor network_input(const checkpoint_network& c, const torch::Tensor& wire);

} // namespace llmos::model
