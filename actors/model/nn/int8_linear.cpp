#include "model/nn/int8_linear.hpp"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

namespace llmos::model::nn {

bool select_int8_engine() {
  auto& ctx = at::globalContext();
  for (auto engine : ctx.supportedQEngines())
    if (engine == at::QEngine::QNNPACK || engine == at::QEngine::ONEDNN) {
      ctx.setQEngine(engine);
      return true;
    }
  return false;
}

namespace {

c10::OperatorHandle op(const char* name) {
  // The boxed calling convention avoids naming LinearPackedParamsBase, whose header Debian's
  // libtorch-dev does not install.
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "");
}

} // namespace

c10::IValue pack_int8(const torch::Tensor& weight, const torch::Tensor& bias) {
  static const auto prepack = op("quantized::linear_prepack");
  const double scale = std::max(weight.abs().max().item<double>(), 1e-8) / 127.0;
  auto q = torch::quantize_per_tensor(weight.detach().contiguous(), scale, 0, torch::kQInt8);
  torch::jit::Stack stack{q, bias.defined() ? c10::IValue(bias.detach()) : c10::IValue()};
  prepack.callBoxed(&stack);
  return stack.at(0);
}

torch::Tensor linear_int8(const torch::Tensor& x, const c10::IValue& packed) {
  static const auto linear = op("quantized::linear_dynamic");
  torch::jit::Stack stack{x.contiguous(), packed, false};
  linear.callBoxed(&stack);
  return stack.at(0).toTensor();
}

} // namespace llmos::model::nn
