// The cleaner: runs a configured list of cleaning rules in order over a batch of records and
// reports what each did. Transforming rules (email_to_text, normalise) change texts in place;
// filtering rules (exact_dedupe, near_dedupe, length_filter, non_text_filter) remove records
// and quarantine every one of them. Rule names and options come from a pipeline file, so a
// name or option that is not known is a bad_config error that names it, before anything runs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/clean/cross_dedupe.hpp"
#include "dataset/clean/near_dedupe.hpp"
#include "dataset/clean/rule_stats.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// One configured rule: its name and its options as written in the pipeline file.
struct clean_rule_spec {
  std::string rule;
  std::map<std::string, std::string> options;
};

/// What a run of the cleaner did.
struct clean_report {
  std::vector<rule_stats> rules; ///< one per configured rule, in order
  uint64_t records_in = 0;
  uint64_t records_out = 0;

  /// A table: rule, removed, modified, first example.
  std::string to_string() const;
};

/// The rule names run_rules knows, in a sensible order (pipeline_spec keeps its own list).
const std::vector<std::string>& clean_rule_names();

/// Checks every spec (names, options, values) without running anything.
caf::expected<void> validate_rules(const std::vector<clean_rule_spec>& specs);

/// Runs `specs` in order over `records`; removed records go to `q`. Fails with bad_config
/// (naming the rule, option and value) before touching the records if a spec is invalid.
caf::expected<clean_report> run_rules(std::vector<record>& records,
                                      const std::vector<clean_rule_spec>& specs, quarantine& q);

/// The options of the first near_dedupe rule among `specs` (none without one).
caf::expected<std::optional<near_dedupe_options>>
near_options_of(const std::vector<clean_rule_spec>& specs);

/// The dedupe rules among `specs` (exact_dedupe, near_dedupe, with their options) between the
/// `fresh` records of an incremental ingest and the `stored` ones of the version it extends
/// (known by their keys; `texts` reads the few a fresh record shares a key with): fresh records
/// repeating a stored one are removed and quarantined (see cross_dedupe.hpp). One rule_stats per
/// dedupe rule, in order.
caf::expected<std::vector<rule_stats>>
dedupe_against_stored(std::vector<record>& fresh, const stored_keys& stored,
                      const stored_texts_fn& texts, const std::vector<clean_rule_spec>& specs,
                      quarantine& q);

} // namespace llmos::dataset
