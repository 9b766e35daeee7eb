#include "feedback/core/version_stats.hpp"

#include <algorithm>
#include <cmath>

#include "llmos/messages/error.hpp"

namespace llmos::feedback {

namespace {

double share(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

std::size_t bin_of(double confidence) {
  const double c = std::clamp(confidence, 0.0, 1.0);
  // 1.0 belongs to the last bin, which is closed: [0.9, 1.0].
  return std::min<std::size_t>(static_cast<std::size_t>(std::floor(c * 10)),
                               version_stats::calibration_bins - 1);
}

} // namespace

version_stats::version_stats(std::string model, uint32_t version, std::size_t window,
                             std::size_t baseline_size)
    : model_(std::move(model)), version_(version), window_(std::max<std::size_t>(window, 1)),
      baseline_size_(baseline_size), bins_(calibration_bins) {}

void version_stats::on_request(const served_request& r) {
  ++requests_;
  // Language models predict no label: only classifiers feed the prediction histograms.
  if (!baseline_given_ && baseline_inputs_.count() < baseline_size_) {
    baseline_inputs_.add(r.text);
    if (!r.label.empty())
      baseline_labels_.add(r.label);
  }
  recent_.push_back({r.text, r.label});
  recent_inputs_.add(r.text);
  if (!r.label.empty())
    recent_labels_.add(r.label);
  if (recent_.size() > window_) {
    const auto& old = recent_.front();
    recent_inputs_.remove(old.text);
    if (!old.label.empty())
      recent_labels_.remove(old.label);
    recent_.pop_front();
  }
}

void version_stats::on_feedback(const feedback_item& fb, const served_request& joined) {
  if (fb.rating > 0)
    ++thumbs_up_;
  else if (fb.rating < 0)
    ++thumbs_down_;
  if (fb.label.empty())
    return;
  const bool correct = fb.label == joined.label;
  ++labelled_;
  correct_ += correct ? 1 : 0;
  outcomes_.push_back(correct);
  window_correct_ += correct ? 1 : 0;
  if (outcomes_.size() > window_) {
    window_correct_ -= outcomes_.front() ? 1 : 0;
    outcomes_.pop_front();
  }
  ++confusion_[fb.label][joined.label];
  auto& bin = bins_[bin_of(joined.confidence)];
  ++bin.count;
  bin.confidence += joined.confidence;
  bin.correct += correct ? 1 : 0;
}

void version_stats::set_baseline(const text_profile& inputs, const label_histogram& predictions) {
  baseline_inputs_ = inputs;
  baseline_labels_ = predictions;
  baseline_given_ = true;
}

double version_stats::accuracy() const {
  return share(correct_, labelled_);
}

double version_stats::window_accuracy() const {
  return share(window_correct_, outcomes_.size());
}

std::vector<calibration_bin> version_stats::calibration() const {
  std::vector<calibration_bin> out(calibration_bins);
  for (std::size_t i = 0; i < calibration_bins; ++i) {
    const auto& b = bins_[i];
    out[i].count = b.count;
    out[i].mean_confidence = b.count == 0 ? 0.0 : b.confidence / static_cast<double>(b.count);
    out[i].accuracy = share(b.correct, b.count);
  }
  return out;
}

double version_stats::ece() const {
  double sum = 0;
  for (const auto& b : calibration())
    sum += share(b.count, labelled_) * std::abs(b.accuracy - b.mean_confidence);
  return sum;
}

bool version_stats::drift_ready() const {
  const std::size_t baseline_needed =
      baseline_given_ ? 1 : std::clamp<std::size_t>(baseline_size_, 1, min_drift_samples);
  return baseline_inputs_.count() >= baseline_needed &&
         recent_inputs_.count() >= std::min(window_, min_drift_samples);
}

double version_stats::input_psi_length() const {
  return drift_ready() ? psi(baseline_inputs_.lengths(), recent_inputs_.lengths()) : 0.0;
}

double version_stats::input_psi_tokens() const {
  return drift_ready() ? psi(baseline_inputs_.tokens(), recent_inputs_.tokens()) : 0.0;
}

double version_stats::input_psi() const {
  return std::max(input_psi_length(), input_psi_tokens());
}

double version_stats::prediction_psi() const {
  return drift_ready() ? recent_labels_.psi_against(baseline_labels_) : 0.0;
}

nlohmann::json version_stats::to_json() const {
  auto calibration_json = nlohmann::json::array();
  for (const auto& b : calibration())
    calibration_json.push_back(
        {{"count", b.count}, {"mean_confidence", b.mean_confidence}, {"accuracy", b.accuracy}});
  return {{"model", model_},
          {"version", version_},
          {"requests", requests_},
          {"labelled", labelled_},
          {"corrections", corrections()},
          {"accuracy", accuracy()},
          {"window_accuracy", window_accuracy()},
          {"window_labelled", outcomes_.size()},
          {"thumbs_up", thumbs_up_},
          {"thumbs_down", thumbs_down_},
          {"confusion", confusion_},
          {"calibration", calibration_json},
          {"ece", ece()},
          {"drift",
           {{"ready", drift_ready()},
            {"baseline_requests", baseline_inputs_.count()},
            {"recent_requests", recent_inputs_.count()},
            {"input_psi_length", input_psi_length()},
            {"input_psi_tokens", input_psi_tokens()},
            {"prediction_psi", prediction_psi()}}}};
}

feedback_analysis::feedback_analysis(std::size_t window, std::size_t baseline_size,
                                     std::size_t remembered)
    : window_(window), baseline_size_(baseline_size), limit_(std::max<std::size_t>(remembered, 1)) {
}

void feedback_analysis::on_request(const served_request& r) {
  stats(r.model, r.version).on_request(r);
  const uint64_t seq = next_seq_++;
  requests_.insert_or_assign(r.id, remembered_request{seq, r});
  order_.emplace_back(r.id, seq);
  while (requests_.size() > limit_ && !order_.empty()) {
    const auto& [id, old_seq] = order_.front();
    // Skip entries for ids logged again since: the newer request stays.
    auto it = requests_.find(id);
    if (it != requests_.end() && it->second.seq == old_seq)
      requests_.erase(it);
    order_.pop_front();
  }
  // An id logged again leaves a stale entry behind; should many pile up (one id re-logged over
  // and over), drop them all, so the order stays as bounded as the requests.
  if (order_.size() > 2 * limit_) {
    std::erase_if(order_, [this](const auto& entry) {
      auto it = requests_.find(entry.first);
      return it == requests_.end() || it->second.seq != entry.second;
    });
  }
}

caf::expected<served_request> feedback_analysis::on_feedback(const feedback_item& fb) {
  auto it = requests_.find(fb.request_id);
  if (it == requests_.end())
    return make_llmos_error(error_code::not_found, "feedback for unknown request '" +
                                                       fb.request_id +
                                                       "' (not logged, or older than the last " +
                                                       std::to_string(limit_) + ")");
  const auto& joined = it->second.request;
  if (!fb.model.empty() && fb.model != joined.model)
    return make_llmos_error(error_code::bad_params, "feedback names model '" + fb.model +
                                                        "' but request '" + fb.request_id +
                                                        "' was served by '" + joined.model + "'");
  stats(joined.model, joined.version).on_feedback(fb, joined);
  if (!fb.label.empty() && fb.label != joined.label)
    ++corrections_[joined.model];
  return joined;
}

version_stats* feedback_analysis::find(const std::string& model, uint32_t version) {
  auto it = versions_.find({model, version});
  return it == versions_.end() ? nullptr : &it->second;
}

const version_stats* feedback_analysis::find(const std::string& model, uint32_t version) const {
  auto it = versions_.find({model, version});
  return it == versions_.end() ? nullptr : &it->second;
}

version_stats& feedback_analysis::stats(const std::string& model, uint32_t version) {
  auto it = versions_.find({model, version});
  if (it == versions_.end())
    it = versions_
             .emplace(std::pair{model, version},
                      version_stats{model, version, window_, baseline_size_})
             .first;
  return it->second;
}

std::vector<const version_stats*> feedback_analysis::of_model(const std::string& model) const {
  std::vector<const version_stats*> out;
  // Keys sort by model, then version: the model's versions are one ascending run.
  for (auto it = versions_.lower_bound({model, 0});
       it != versions_.end() && it->first.first == model; ++it)
    out.push_back(&it->second);
  return out;
}

uint64_t feedback_analysis::corrections_total(const std::string& model) const {
  auto it = corrections_.find(model);
  return it == corrections_.end() ? 0 : it->second;
}

uint64_t feedback_analysis::corrections_since(const std::string& model, uint64_t mark) const {
  const auto total = corrections_total(model);
  return total > mark ? total - mark : 0;
}

nlohmann::json feedback_analysis::to_json() const {
  auto versions = nlohmann::json::array();
  for (const auto& [key, s] : versions_)
    versions.push_back(s.to_json());
  return {{"versions", versions},
          {"corrections_total", corrections_},
          {"remembered", requests_.size()}};
}

std::vector<std::string> feedback_analysis::models() const {
  std::vector<std::string> out;
  for (const auto& [key, stats] : versions_)
    if (out.empty() || out.back() != key.first)
      out.push_back(key.first);
  return out;
}

} // namespace llmos::feedback
