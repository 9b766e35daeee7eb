// Class labels and the indices a classifier's output units stand for. The order is the sorted
// label strings, so the same data set gives the same mapping on every node and in every run; the
// joined form is stored in checkpoints so predictions turn back into names after a restart.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::model {

/// Sorted, distinct class labels; a label's index is its position.
class label_vocab {
public:
  label_vocab() = default;

  /// Sorts and removes duplicates; drops "" (it means "unlabelled" in data sets).
  explicit label_vocab(std::vector<std::string> labels);

  /// The labels of a data set's label counts ("" for unlabelled records is ignored).
  static label_vocab from_counts(const std::map<std::string, uint64_t>& counts);

  /// The index of `label`; bad_params "unknown label 'x' (known: a, b)".
  caf::expected<int64_t> index(const std::string& label) const;

  /// The label at index `i` (0 <= i < size()).
  const std::string& name(int64_t i) const;

  std::size_t size() const { return labels_.size(); }

  const std::vector<std::string>& labels() const { return labels_; }

  /// The labels separated by newlines (data set labels are single lines); parse() reads it back.
  std::string join() const;

  /// The vocabulary of a join() text.
  static label_vocab parse(const std::string& joined);

private:
  std::vector<std::string> labels_;
};

} // namespace llmos::model
