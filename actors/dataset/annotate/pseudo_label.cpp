#include "dataset/annotate/pseudo_label.hpp"

#include <charconv>
#include <unordered_map>

namespace llmos::dataset {

pseudo_label_counts apply_pseudo_labels(std::vector<record>& records,
                                        const std::vector<pseudo_label>& labels,
                                        double min_confidence) {
  pseudo_label_counts counts;
  std::unordered_map<std::string_view, std::size_t> by_id;
  by_id.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i)
    by_id.emplace(records[i].id, i);
  for (const auto& p : labels) {
    // Written as !(a >= b) so that a NaN confidence counts as below the threshold.
    if (!(p.confidence >= min_confidence)) {
      ++counts.below_threshold;
      continue;
    }
    if (p.label.empty()) {
      ++counts.empty_label;
      continue;
    }
    auto it = by_id.find(p.record_id);
    if (it == by_id.end()) {
      ++counts.unknown_record;
      continue;
    }
    auto& r = records[it->second];
    if (!r.label.empty()) {
      ++counts.already_labelled;
      continue;
    }
    r.label = p.label;
    r.meta["label_source"] = "model";
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), p.confidence);
    r.meta["label_confidence"] = ec == std::errc{} ? std::string(buf, end) : "";
    ++counts.applied;
  }
  return counts;
}

} // namespace llmos::dataset
