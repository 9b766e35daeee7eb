// Small real data sets for the model tests, built once per test process with the real dataset
// pipeline (SpamAssassin mails, Fashion-MNIST images, fortunes) into a temporary folder, and
// served as the batches a dataset actor would stream. A set whose files the setup step has not
// installed yields nullptr, and the tests skip with a message.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dataset/dataset_view.hpp"
#include "llmos/messages/dataset.hpp"
#include "model/core/data_shape.hpp"
#include "model/core/label_vocab.hpp"

namespace llmos::model::testing {

struct small_set {
  dataset::dataset_view view;
  data_shape shape;
  label_vocab labels;
  std::string tokenizer_name;

  /// Batches of `split` in the order replica `rank` of `world` gets them in `epoch`.
  std::vector<data_batch> batches(const std::string& split, uint32_t batch_size, uint32_t epoch = 0,
                                  uint32_t rank = 0, uint32_t world = 1, uint64_t seed = 1) const;
};

/// The pipeline (without root:) of spam_set, for tests that ingest through a dataset actor.
std::string spam_pipeline_text();

/// 300 ham + 300 spam mails, BPE-tokenised (vocabulary 2000, 128 tokens).
const small_set* spam_set();
/// 4000 Fashion-MNIST training images.
const small_set* fashion_set();
/// 4000 English fortunes, byte-tokenised (64 tokens).
const small_set* fortunes_set();

} // namespace llmos::model::testing
