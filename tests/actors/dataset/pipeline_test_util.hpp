// Running a whole pipeline in a test, where nobody watches its progress: the result as
// run_pipeline gives it (for the runs that must fail), or the result of a run that must succeed.
#pragma once

#include <gtest/gtest.h>

#include "dataset/pipeline_runner.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

/// run_pipeline on `spec` with a progress callback that ignores every report.
inline caf::expected<pipeline_result> run_unwatched(const pipeline_spec& spec) {
  return run_pipeline(spec, [](const std::string&, uint64_t, uint64_t, const std::string&) {});
}

/// Runs `spec`, which must succeed; an empty result (and a test failure) when it does not.
inline pipeline_result run_ok(const pipeline_spec& spec) {
  auto result = run_unwatched(spec);
  EXPECT_TRUE(result) << describe(result.error());
  return result ? std::move(*result) : pipeline_result{};
}

} // namespace llmos::dataset
