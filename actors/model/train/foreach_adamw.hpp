// AdamW stepping all of a parameter group's tensors at once: PyTorch's "foreach" implementation
// (the default of Python's torch.optim.AdamW on a GPU) over LibTorch's _foreach_ operators. The
// arithmetic is torch::optim::AdamW's, operator for operator, so on the CPU (where each foreach
// operator loops over the tensors) the parameters come out the same to the bit; on a GPU each
// operator is one multi-tensor kernel launch for the whole group instead of one per tensor
// (a GPT-2-small step has ~110 tensors and ~8 operators each). The state is AdamW's own
// (AdamWParamState under the same keys), so checkpoints and device moves treat it as AdamW.
// AMSGrad and sparse gradients take AdamW's per-tensor step.
#pragma once

#include <torch/optim/adamw.h>

namespace llmos::model {

class foreach_adamw : public torch::optim::AdamW {
public:
  using torch::optim::AdamW::AdamW;

  torch::Tensor step(LossClosure closure = nullptr) override;
};

} // namespace llmos::model
