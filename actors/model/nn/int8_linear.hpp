// Dynamic int8 linear layers through the quantized operators Debian's LibTorch ships
// (QNNPACK / oneDNN engines; there is no FBGEMM): weights quantised once per tensor, activations
// quantised on the fly per call. Torch-only header.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/torch.h>

namespace llmos::model::nn {

/// Selects a quantised engine this build has; false when none is available.
bool select_int8_engine();

/// Packs `weight` [out, in] (symmetric int8 per tensor) and `bias` for linear_int8.
c10::IValue pack_int8(const torch::Tensor& weight, const torch::Tensor& bias);

/// y = x W^T + b with the packed int8 weight; x is float [.., in].
torch::Tensor linear_int8(const torch::Tensor& x, const c10::IValue& packed);

} // namespace llmos::model::nn
