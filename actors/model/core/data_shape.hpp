// What a network needs to know about its data besides the spec: sizes the data set decides
// (vocabulary, labels, padding, image size). Plain, so that the actor can fill it from the
// dataset's answers without including torch.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace llmos::model {

struct data_shape {
  int64_t vocab_size = 0;  ///< token ids are in [0, vocab_size)
  int64_t num_classes = 0; ///< classifiers: labels in [0, num_classes)
  int64_t pad_id = 0;      ///< padding token: masked out of pooling, attention and LM loss
  int64_t bos_id = -1;     ///< language models: prepended to prompts when >= 0
  int64_t eos_id = -1;     ///< language models: generation stops here when >= 0
  int64_t image_size = 28; ///< cnn: square images of this side
};

/// The shape a data set's statistics report describes (its "tokenizer" and "labels" entries, as
/// the dataset actor's stats answer carries them), so a model on another node needs no files.
data_shape shape_from_report(const nlohmann::json& report);

} // namespace llmos::model
