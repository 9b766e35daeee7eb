#include "model/core/metrics.hpp"

#include <cmath>
#include <limits>

#include "llmos/messages/error.hpp"

namespace llmos::model {

caf::expected<classification_metrics> classify_metrics(const std::vector<int64_t>& truth,
                                                       const std::vector<int64_t>& predicted,
                                                       int64_t num_classes) {
  if (truth.size() != predicted.size())
    return make_llmos_error(error_code::bad_params,
                            "metrics: " + std::to_string(truth.size()) + " true labels but " +
                                std::to_string(predicted.size()) +
                                " predictions; give one prediction per example");
  if (num_classes <= 0)
    return make_llmos_error(error_code::bad_params, "metrics: num_classes is " +
                                                        std::to_string(num_classes) +
                                                        "; a classifier has at least one class");
  const auto n = static_cast<std::size_t>(num_classes);
  classification_metrics m;
  m.count = truth.size();
  m.confusion.assign(n, std::vector<uint64_t>(n, 0));
  uint64_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    for (auto [what, v] :
         {std::pair{"true label", truth[i]}, std::pair{"prediction", predicted[i]}})
      if (v < 0 || v >= num_classes)
        return make_llmos_error(error_code::bad_params, std::string{"metrics: "} + what + " " +
                                                            std::to_string(v) + " at position " +
                                                            std::to_string(i) + " is outside [0, " +
                                                            std::to_string(num_classes) + ")");
    ++m.confusion[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(predicted[i])];
    correct += truth[i] == predicted[i];
  }
  if (m.count > 0)
    m.accuracy = static_cast<double>(correct) / static_cast<double>(m.count);
  m.f1.assign(n, 0.0);
  double f1_sum = 0;
  std::size_t present = 0;
  for (std::size_t c = 0; c < n; ++c) {
    uint64_t tp = m.confusion[c][c];
    uint64_t fp = 0;
    uint64_t fn = 0;
    for (std::size_t o = 0; o < n; ++o)
      if (o != c) {
        fp += m.confusion[o][c];
        fn += m.confusion[c][o];
      }
    // A class absent from both truth and predictions has no F1; counting it as 0 would punish
    // a model for labels the evaluation split happens not to contain.
    if (tp + fp + fn == 0)
      continue;
    m.f1[c] = 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
    f1_sum += m.f1[c];
    ++present;
  }
  if (present > 0)
    m.macro_f1 = f1_sum / static_cast<double>(present);
  return m;
}

nlohmann::json classification_metrics::to_json(const std::vector<std::string>& class_names) const {
  auto label = [&](std::size_t c) {
    return c < class_names.size() ? class_names[c] : std::to_string(c);
  };
  nlohmann::json labels = nlohmann::json::array();
  nlohmann::json per_class = nlohmann::json::array();
  for (std::size_t c = 0; c < confusion.size(); ++c) {
    uint64_t support = 0;
    for (auto v : confusion[c])
      support += v;
    labels.push_back(label(c));
    per_class.push_back(
        {{"label", label(c)}, {"f1", c < f1.size() ? f1[c] : 0.0}, {"support", support}});
  }
  return {{"accuracy", accuracy},   {"macro_f1", macro_f1}, {"count", count},
          {"per_class", per_class}, {"labels", labels},     {"confusion", confusion}};
}

double perplexity(double total_nll, uint64_t tokens) {
  if (tokens == 0)
    return std::numeric_limits<double>::infinity();
  return std::exp(total_nll / static_cast<double>(tokens));
}

} // namespace llmos::model
