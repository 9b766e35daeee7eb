// The foreach AdamW against LibTorch's AdamW: the same parameters to the bit after steps with
// weight decay, with a tensor that misses a gradient now and then (so step counts differ within
// the group), and after a save and load in the middle; its state is AdamW's own.
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include "model/train/foreach_adamw.hpp"

namespace llmos::model {
namespace {

std::vector<torch::Tensor> parameters(uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> ps;
  for (auto shape : {std::vector<int64_t>{7, 5}, {5}, {3, 4, 2}, {1}})
    ps.push_back(torch::randn(shape).requires_grad_(true));
  return ps;
}

/// Gives every parameter a gradient from step `s` but the third one every third step.
void gradients(std::vector<torch::Tensor>& ps, int s) {
  for (std::size_t i = 0; i < ps.size(); ++i) {
    ps[i].mutable_grad() = torch::Tensor();
    if (i == 2 && s % 3 == 0)
      continue;
    torch::manual_seed(1000 + s * 10 + static_cast<int>(i));
    ps[i].mutable_grad() = torch::randn(ps[i].sizes());
  }
}

TEST(foreach_adamw, steps_to_the_bit_like_adamw_and_keeps_its_state) {
  auto mine = parameters(3), theirs = parameters(3);
  const auto options = torch::optim::AdamWOptions(3e-2).weight_decay(0.1);
  auto a = std::make_unique<foreach_adamw>(mine, options);
  torch::optim::AdamW b(theirs, options);
  for (int s = 1; s <= 12; ++s) {
    gradients(mine, s);
    gradients(theirs, s);
    a->step();
    b.step();
    for (std::size_t i = 0; i < mine.size(); ++i)
      ASSERT_TRUE(torch::equal(mine[i], theirs[i])) << "tensor " << i << ", step " << s;
    if (s == 6) { // saved and loaded as AdamW's state: the steps go on the same
      std::stringstream archive;
      torch::serialize::OutputArchive out;
      a->save(out);
      out.save_to(archive);
      a = std::make_unique<foreach_adamw>(mine, options);
      torch::serialize::InputArchive in;
      in.load_from(archive);
      a->load(in);
    }
  }
  EXPECT_EQ(a->state().size(), mine.size());
  for (const auto& [key, state] : a->state())
    EXPECT_NE(dynamic_cast<torch::optim::AdamWParamState*>(state.get()), nullptr);
  // Moved: the parameters changed, so the comparison says something.
  EXPECT_FALSE(torch::equal(mine[0], parameters(3)[0]));
}

} // namespace
} // namespace llmos::model
