// The labeller: runs a set of labelling functions over records and combines their votes by
// weighted majority (the label with the largest sum of weights wins; a tie abstains, because a
// coin flip would put noise into the training set that looks like signal). Records that already
// carry a label are gold: they are scored, to measure each function's accuracy, and relabelled
// only when asked to overwrite. Pure: records in, records and statistics out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/annotate/annotation_stats.hpp"
#include "dataset/annotate/labelling_function.hpp"
#include "dataset/pipeline_spec.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// One function's vote for weighted_majority.
struct lf_vote {
  std::string_view label;
  double weight = 1.0;
};

/// The combined vote on one record.
struct combined_vote {
  std::string label;       ///< "" when every function abstained or the top labels tie
  double weight = 0;       ///< sum of the weights behind `label`
  double total_weight = 0; ///< sum of the weights of all voters
  uint32_t voters = 0;
  bool tie = false;

  /// weight / total_weight: the share of the voting weight that agrees; 0 without a label.
  double confidence() const { return total_weight > 0 ? weight / total_weight : 0; }
};

/// Weighted majority; weight sums within 1e-9 (relative) of each other count as a tie, so that
/// 0.1 + 0.2 ties with 0.3 as the pipeline file's author meant.
combined_vote weighted_majority(const std::vector<lf_vote>& votes);

/// How annotate treats records.
struct annotate_options {
  bool overwrite = false; ///< also relabel records that already have a (different) label
};

/// A compiled set of labelling functions.
class labeller {
public:
  /// Compiles every spec; the first bad one is the error. Names must be unique.
  static caf::expected<labeller> make(std::vector<labelling_function_spec> specs);

  /// Compiles the pipeline file's labelling functions; errors read "FILE:LINE: ...".
  static caf::expected<labeller> from_pipeline(const std::vector<labelling_function_decl>& decls,
                                               const std::string& file);

  /// Which functions vote on `text`, in declaration order (none on empty text: images).
  std::vector<bool> votes(std::string_view text) const;

  /// The combined vote on `text`.
  combined_vote vote(std::string_view text) const;

  /// Labels unlabelled records (and, with overwrite, labelled ones) where the combined vote
  /// names a label, marking meta["label_source"] = "labelling_functions" and
  /// meta["label_confidence"]; returns the statistics.
  annotation_stats annotate(std::vector<record>& records, const annotate_options& opts) const;

  const std::vector<labelling_function>& functions() const { return functions_; }

private:
  combined_vote combine(const std::vector<bool>& fired) const;

  std::vector<labelling_function> functions_;
};

} // namespace llmos::dataset
