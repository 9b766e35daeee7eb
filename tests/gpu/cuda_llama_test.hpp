// The fixture of the GPU tests on the shared pretrained model: llama_test's, skipped where
// LibTorch sees no CUDA device (gpu-check.sh counts such a skip as a failure).
#pragma once

#include <gtest/gtest.h>

#include "llama_fixture.hpp"

namespace llmos::model {

class cuda_llama_test : public llama_test {
protected:
  void SetUp() override {
    if (engine::cuda_devices() == 0)
      GTEST_SKIP() << "no CUDA device usable by this LibTorch";
    llama_test::SetUp();
  }
};

} // namespace llmos::model
