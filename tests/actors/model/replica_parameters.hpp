// Data-parallel equivalence, checked the same way in one process (engine_parallel_test.cpp) and
// across node processes (tests/nodes/model_parallel_test.cpp): two replicas that each trained on
// half of every batch end with the same parameters, within 1e-5 of one replica that trained on
// the whole batches.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include <gtest/gtest.h>

namespace llmos::test {

/// Expects the flat parameters of the two replicas to be identical and those of `replica0` to be
/// within 1e-5 of `single`'s.
inline void expect_replicas_match_single(const std::vector<float>& single,
                                         const std::vector<float>& replica0,
                                         const std::vector<float>& replica1) {
  ASSERT_EQ(single.size(), replica0.size());
  EXPECT_EQ(replica0, replica1) << "the two replicas stay identical";
  double worst = 0;
  for (std::size_t i = 0; i < single.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(single[i] - replica0[i])));
  EXPECT_LT(worst, 1e-5);
}

} // namespace llmos::test
