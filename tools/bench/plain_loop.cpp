#include "plain_loop.hpp"

#include <chrono>

#include <torch/torch.h>

#include "model/nn/network.hpp"

namespace llmos::bench {

namespace {
int warmup_steps(int steps) {
  return std::max(3, steps / 10);
}
} // namespace

double plain_libtorch_sps(const model::model_spec& spec, const model::data_shape& shape,
                          const model::label_vocab& labels, const std::vector<data_batch>& batches,
                          int steps) {
  torch::manual_seed(spec.seed);
  auto net = *model::nn::make_network(spec, shape);
  torch::optim::AdamW opt(net->parameters(),
                          torch::optim::AdamWOptions(spec.lr).weight_decay(spec.weight_decay));
  const bool lm = net->task() == model::nn::task_kind::language_model;
  // Tensors are prepared up front, as a hand-written loop over in-memory data would.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> data;
  for (auto& b : batches) {
    auto x =
        torch::from_blob(const_cast<char*>(b.inputs.data.data()), b.inputs.shape, torch::kInt32)
            .to(torch::kLong);
    if (lm) {
      auto t = x.narrow(1, 1, x.size(1) - 1).clone();
      t.masked_fill_(t.eq(shape.pad_id), -100);
      data.emplace_back(x.narrow(1, 0, x.size(1) - 1), t);
    } else {
      std::vector<int64_t> y;
      for (auto& l : b.labels)
        y.push_back(*labels.index(l));
      data.emplace_back(x, torch::tensor(y, torch::kLong));
    }
  }
  net->train();
  int64_t samples = 0;
  auto start = std::chrono::steady_clock::now();
  for (int s = -warmup_steps(steps); s < steps; ++s) {
    if (s == 0) // untimed warm-up first: allocator, thread pool and caches settle
      start = std::chrono::steady_clock::now();
    const int n = static_cast<int>(data.size());
    auto& [x, y] = data[static_cast<std::size_t>(((s % n) + n) % n)];
    auto logits = net->forward(x);
    auto loss = torch::nn::functional::cross_entropy(
        logits.reshape({-1, logits.size(-1)}), y.reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(net->parameters(), spec.clip_norm);
    opt.step();
    if (s >= 0)
      samples += x.size(0);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(samples) / secs;
}

} // namespace llmos::bench
