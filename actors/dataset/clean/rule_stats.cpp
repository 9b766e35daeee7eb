#include "dataset/clean/rule_stats.hpp"

namespace llmos::dataset {

void reject(rule_stats& stats, quarantine& q, const record& r, std::string reason) {
  ++stats.removed;
  if (stats.examples.size() < max_removal_examples)
    stats.examples.push_back(removal_example{r.id, reason});
  q.add(stats.rule, reason, r);
}

void keep_flagged(std::vector<record>& records, const std::vector<bool>& keep) {
  std::size_t out = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i < keep.size() && !keep[i])
      continue;
    if (out != i)
      records[out] = std::move(records[i]);
    ++out;
  }
  records.resize(out);
}

} // namespace llmos::dataset
