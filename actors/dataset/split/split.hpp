// Stratified, seeded train/validation/test splits. Each record's part is a pure function of its
// label group, its id and the seed: within a label (unlabelled records form a group of their
// own) records are ordered by a hash of (seed, id) and cut by the fractions with largest-remainder
// rounding, so every label keeps its proportions to within one record, and the result does not
// depend on the order records arrive in. A label with too few records for a validation or test
// share keeps them in train (a single record always goes to train), so rare labels are still
// learned rather than only evaluated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/record.hpp"

namespace llmos::dataset {

/// The fractions of each part (must be >= 0 and sum to 1 within 1e-9) and the seed.
struct split_spec {
  double train = 0.8;
  double validation = 0.1;
  double test = 0.1;
  uint64_t seed = 1;
};

/// Which part a record belongs to.
enum class split_part : uint8_t { train = 0, validation = 1, test = 2 };

/// "train", "validation" or "test".
std::string_view to_string(split_part part);

/// The three parts of a data set, each in the records' input order.
struct split_result {
  std::vector<record> train;
  std::vector<record> validation;
  std::vector<record> test;
};

/// bad_config when a fraction is negative or not finite, or the fractions do not sum to 1.
caf::expected<void> validate(const split_spec& spec);

/// The part of each record, aligned with `records`. Record ids should be unique: records that
/// share an id and label are ordered by their position, which is the only order dependence.
caf::expected<std::vector<split_part>> assign_splits(const std::vector<record>& records,
                                                     const split_spec& spec);

/// Moves `records` into their parts (the same assignment as assign_splits).
caf::expected<split_result> split_stratified(std::vector<record> records, const split_spec& spec);

/// The texts of the records assigned to `part` (empty texts skipped): what a tokenizer trains on.
std::vector<std::string> texts_of(const std::vector<record>& records,
                                  const std::vector<split_part>& assignment,
                                  split_part part = split_part::train);

} // namespace llmos::dataset
