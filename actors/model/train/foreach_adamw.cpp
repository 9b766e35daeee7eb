#include "model/train/foreach_adamw.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <ATen/ATen.h>

namespace llmos::model {
namespace {

/// The optimizer state's key of a parameter: LibTorch 1.x keys it by the printed address of its
/// TensorImpl, 2.x by the address itself.
template <class Key> Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s; // as c10::guts::to_string prints it
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

/// The tensors of one group's parameters that step with the same count.
struct step_lists {
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
};

} // namespace

torch::Tensor foreach_adamw::step(LossClosure closure) {
  for (const auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    bool sparse = false;
    for (const auto& p : group.params())
      sparse = sparse || (p.grad().defined() && p.grad().is_sparse());
    if (o.amsgrad() || sparse)
      return torch::optim::AdamW::step(closure); // every group, per tensor
  }
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  using key_type = std::decay_t<decltype(state_)>::key_type;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const auto [beta1, beta2] = o.betas();
    // Tensors whose step counts differ (one had no gradient in an earlier step) go in separate
    // calls: their bias corrections differ.
    std::map<int64_t, step_lists> by_step;
    for (auto& p : group.params()) {
      if (!p.grad().defined())
        continue;
      auto& slot = state_[state_key<key_type>(p)];
      if (!slot) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*slot);
      st.step(st.step() + 1);
      auto& lists = by_step[st.step()];
      lists.params.push_back(p);
      lists.grads.push_back(p.grad());
      lists.exp_avgs.push_back(st.exp_avg());
      lists.exp_avg_sqs.push_back(st.exp_avg_sq());
    }
    for (auto& [count, l] : by_step) {
      if (o.weight_decay() != 0)
        at::_foreach_mul_(l.params, 1 - o.lr() * o.weight_decay());
      const double bias_correction1 = 1 - std::pow(beta1, count);
      const double bias_correction2 = 1 - std::pow(beta2, count);
      at::_foreach_mul_(l.exp_avgs, beta1);
      at::_foreach_add_(l.exp_avgs, l.grads, 1 - beta1);
      at::_foreach_mul_(l.exp_avg_sqs, beta2);
      at::_foreach_addcmul_(l.exp_avg_sqs, l.grads, l.grads, 1 - beta2);
      auto denom = at::_foreach_sqrt(l.exp_avg_sqs);
      at::_foreach_div_(denom, std::sqrt(bias_correction2));
      at::_foreach_add_(denom, o.eps());
      at::_foreach_addcdiv_(l.params, l.exp_avgs, denom, -o.lr() / bias_correction1);
    }
  }
  return loss;
}

} // namespace llmos::model
