// Evaluation numbers the trainer reports and the registry stores: accuracy, per-class and macro
// F1 and the confusion matrix for classifiers, perplexity for language models. Plain functions
// of index vectors, so they are checked against hand-computed examples without a model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

namespace llmos::model {

/// How well predicted class indices match the truth.
struct classification_metrics {
  double accuracy = 0;
  double macro_f1 = 0;
  uint64_t count = 0;
  std::vector<double> f1;                       ///< per class (0 for a class never seen)
  std::vector<std::vector<uint64_t>> confusion; ///< [truth][predicted]

  /// {"accuracy", "macro_f1", "count", "per_class": [{label, f1, support}], "labels",
  /// "confusion"}; classes without a name are called by their index.
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;
};

/// Metrics of `predicted` against `truth` (class indices in [0, num_classes), equal sizes; else
/// bad_params). Macro-F1 averages over the classes that occur in truth or predictions.
caf::expected<classification_metrics> classify_metrics(const std::vector<int64_t>& truth,
                                                       const std::vector<int64_t>& predicted,
                                                       int64_t num_classes);

/// exp(total_nll / tokens); +inf for no tokens.
double perplexity(double total_nll, uint64_t tokens);

} // namespace llmos::model
