// What one cleaning rule did to a batch of records: how many it removed (each sent to the
// quarantine with a reason), how many it changed in place, and the first few removals as
// examples for the report. Every rule returns one of these so that the cleaner can print a
// per-rule table and nothing disappears without a count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dataset/quarantine.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// One removed record, as shown in a report.
struct removal_example {
  std::string id;     ///< the record's id
  std::string reason; ///< the reason given to the quarantine
};

/// The outcome of one rule over a batch.
struct rule_stats {
  std::string rule;                      ///< the rule's name, also the quarantine's rule field
  uint64_t removed = 0;                  ///< records removed (all quarantined)
  uint64_t modified = 0;                 ///< records whose text a transforming rule changed
  std::vector<removal_example> examples; ///< the first max_examples removals
};

/// How many removals a rule_stats keeps as examples.
inline constexpr std::size_t max_removal_examples = 3;

/// Sends `r` to the quarantine under `stats.rule` with `reason` and counts it in `stats`.
void reject(rule_stats& stats, quarantine& q, const record& r, std::string reason);

/// A transforming rule named `rule`: each record's text becomes rewrite(text), counted as
/// modified where that changed it.
rule_stats rewrite_texts(std::vector<record>& records, std::string rule,
                         const std::function<std::string(std::string_view)>& rewrite);

/// Removes the records whose `keep` flag is false, keeping the order of the rest.
void keep_flagged(std::vector<record>& records, const std::vector<bool>& keep);

} // namespace llmos::dataset
