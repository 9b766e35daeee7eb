// What every measurement of `llmos-bench training` runs on: a model spec and the full batches
// of a data set ingested through its pipeline, shared by the timed paths (training_bench.cpp)
// and the compression figures (training_compression.cpp).
#pragma once

#include <string>
#include <vector>

#include "llmos/messages/dataset.hpp"
#include "model/core/data_shape.hpp"
#include "model/core/label_vocab.hpp"
#include "model/core/model_spec.hpp"

namespace llmos::bench {

/// `steps` full batches of one data set and the model spec trained on them (`name`: in the keys).
struct workload {
  std::string name;
  model::model_spec spec;
  model::data_shape shape;
  model::label_vocab labels;
  std::vector<data_batch> batches;
  int steps = 0;
};

} // namespace llmos::bench
