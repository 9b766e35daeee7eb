#include "model/core/label_vocab.hpp"

#include <algorithm>
#include <cassert>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"

namespace llmos::model {

label_vocab::label_vocab(std::vector<std::string> labels) : labels_(std::move(labels)) {
  std::erase(labels_, std::string{});
  std::sort(labels_.begin(), labels_.end());
  labels_.erase(std::unique(labels_.begin(), labels_.end()), labels_.end());
}

label_vocab label_vocab::from_counts(const std::map<std::string, uint64_t>& counts) {
  std::vector<std::string> labels;
  for (const auto& [label, count] : counts)
    labels.push_back(label);
  return label_vocab{std::move(labels)};
}

caf::expected<int64_t> label_vocab::index(const std::string& label) const {
  auto i = std::lower_bound(labels_.begin(), labels_.end(), label);
  if (i == labels_.end() || *i != label)
    return make_llmos_error(error_code::bad_params,
                            "unknown label '" + label + "' (known: " + join_words(labels_) + ")");
  return static_cast<int64_t>(i - labels_.begin());
}

const std::string& label_vocab::name(int64_t i) const {
  assert(i >= 0 && static_cast<std::size_t>(i) < labels_.size());
  return labels_[static_cast<std::size_t>(i)];
}

std::string label_vocab::join() const {
  std::string out;
  for (const auto& label : labels_)
    out += (out.empty() ? "" : "\n") + label;
  return out;
}

label_vocab label_vocab::parse(const std::string& joined) {
  std::vector<std::string> labels;
  std::size_t start = 0;
  while (start <= joined.size()) {
    auto end = std::min(joined.find('\n', start), joined.size());
    labels.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return label_vocab{std::move(labels)};
}

} // namespace llmos::model
