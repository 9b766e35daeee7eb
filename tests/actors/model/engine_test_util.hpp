// Shared by the engine tests: specs written inline, training loops and batch slicing.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "model/train/engine.hpp"
#include "model_data.hpp"

namespace llmos::model::testing {

inline model_spec spec_of(const std::string& yaml) {
  auto s = parse_model_spec(yaml, "test.yaml");
  EXPECT_TRUE(s) << describe(s.error());
  return s ? *s : model_spec{};
}

inline std::unique_ptr<engine> make_engine(const model_spec& spec, const small_set& set) {
  auto e = engine::create(spec, set.shape, set.labels);
  EXPECT_TRUE(e) << describe(e.error());
  return e ? std::move(*e) : nullptr;
}

/// Trains until `steps` optimizer steps, cycling epochs; returns the loss of every micro-batch.
inline std::vector<double> train(engine& e, const small_set& set, int64_t steps,
                                 uint32_t batch_size, uint32_t first_epoch = 0) {
  std::vector<double> losses;
  for (uint32_t epoch = first_epoch; e.step() < steps; ++epoch)
    for (auto& b : set.batches("train", batch_size, epoch)) {
      auto r = e.train_step(b);
      EXPECT_TRUE(r) << describe(r.error());
      if (!r)
        return losses;
      losses.push_back(r->loss);
      if (e.step() >= steps)
        break;
    }
  return losses;
}

inline eval_report evaluate(engine& e, const small_set& set, uint32_t batch_size = 64) {
  auto r = e.evaluate(set.batches("validation", batch_size));
  EXPECT_TRUE(r) << describe(r.error());
  return r ? *r : eval_report{};
}

/// Rows [from, from + n) of a batch.
data_batch slice(const data_batch& b, std::size_t from, std::size_t n);

} // namespace llmos::model::testing
