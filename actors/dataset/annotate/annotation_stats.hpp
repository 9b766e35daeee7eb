// What annotation with labelling functions did, per function and overall, in the terms of
// Snorkel's LF analysis: coverage (share of records it voted on), overlap (it voted and at least
// one other function voted), conflict (it voted and another function voted a different label),
// and accuracy against the gold labels records already had. All shares are over all records
// annotated, so the numbers of different functions can be compared side by side.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace llmos::dataset {

/// The numbers of one labelling function.
struct lf_stats {
  std::string name;
  std::string label;
  uint64_t votes = 0;             ///< records it voted on
  uint64_t overlaps = 0;          ///< ... where at least one other function voted too
  uint64_t conflicts = 0;         ///< ... where another function voted a different label
  uint64_t gold_votes = 0;        ///< votes on records that already had a label
  uint64_t correct = 0;           ///< ... that agreed with that label
  double coverage = 0;            ///< votes / records
  double overlap = 0;             ///< overlaps / records
  double conflict = 0;            ///< conflicts / records
  std::optional<double> accuracy; ///< correct / gold_votes; absent without gold votes
};

/// The numbers of one annotation pass.
struct annotation_stats {
  uint64_t records = 0;
  uint64_t covered = 0;           ///< records with at least one vote
  uint64_t overlapped = 0;        ///< records with at least two votes
  uint64_t conflicted = 0;        ///< records whose votes name at least two labels
  double coverage = 0;            ///< covered / records
  double overlap = 0;             ///< overlapped / records
  double conflict = 0;            ///< conflicted / records
  uint64_t labelled = 0;          ///< unlabelled records that received a label
  uint64_t relabelled = 0;        ///< labelled records whose label changed (overwrite only)
  uint64_t kept = 0;              ///< labelled records whose label was kept (scored only)
  uint64_t ties = 0;              ///< records with votes but a tied weighted majority (abstained)
  uint64_t gold_scored = 0;       ///< labelled records on which the combined vote named a label
  uint64_t gold_correct = 0;      ///< ... and agreed with it
  std::optional<double> accuracy; ///< gold_correct / gold_scored
  std::map<std::string, uint64_t> label_distribution; ///< labels after annotation
  uint64_t unlabelled = 0;                            ///< records still without a label
  std::vector<lf_stats> functions;                    ///< in declaration order
};

/// The statistics as a JSON object (for the dataset's report).
nlohmann::json to_json(const annotation_stats& stats);

} // namespace llmos::dataset
