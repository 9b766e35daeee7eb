#include "dataset/clean/rule_stats.hpp"

namespace llmos::dataset {

void reject(rule_stats& stats, quarantine& q, const record& r, std::string reason) {
  ++stats.removed;
  if (stats.examples.size() < max_removal_examples)
    stats.examples.push_back(removal_example{r.id, reason});
  q.add(stats.rule, reason, r);
}

rule_stats rewrite_texts(std::vector<record>& records, std::string rule,
                         const std::function<std::string(std::string_view)>& rewrite) {
  rule_stats stats{std::move(rule), 0, 0, {}};
  for (auto& r : records) {
    auto text = rewrite(r.text);
    if (text != r.text) {
      ++stats.modified;
      r.text = std::move(text);
    }
  }
  return stats;
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
