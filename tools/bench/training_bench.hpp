// llmos-bench training: samples/s of the bag-of-embeddings classifier (SpamAssassin) and the GPT
// model (fortunes), same data, model and thread count, side by side in one run: through our
// device actor and engine (what a model actor does per step), a plain LibTorch loop over the
// same network, and Debian's Python PyTorch. Also 1 vs 2 data-parallel replicas (Gloo).
#pragma once

#include <string>

namespace llmos::bench {

struct training_options {
  std::string json_path;     ///< --json FILE
  std::string python_script; ///< "" = no Python peer
  int steps = 150;           ///< optimizer steps per measurement (classifier; GPT uses a seventh)
};

int run_training(const training_options& opts);

} // namespace llmos::bench
