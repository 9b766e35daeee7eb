// What the feedback says about each model version: how often people had to correct it (overall
// and over a sliding window of recent labelled outcomes), which labels it confuses, whether its
// confidence means what it says (calibration, ECE), what ratings it got, and whether its inputs
// and predictions drift away from a baseline (the first requests it served, or the training
// data's profile when the loop supplies it). feedback_analysis holds every version's and joins
// feedback to the request it is about: requests are remembered by id (the last `remembered` of
// them, oldest forgotten first, so memory stays bounded however long the server runs). Per model
// it counts corrections, so the loop can ask "how many since the last round". Replaying the
// feedback log through on_request/on_feedback rebuilds the same state. The retraining loop's
// triggers read these.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "feedback/core/drift.hpp"
#include "feedback/core/feedback_event.hpp"

namespace llmos::feedback {

/// Labelled outcomes whose confidence fell in one tenth of [0, 1].
struct calibration_bin {
  uint64_t count = 0;
  double mean_confidence = 0;
  double accuracy = 0;
};

/// Analysis of one (model, version).
class version_stats {
public:
  static constexpr std::size_t calibration_bins = 10;
  /// Recent requests (at most the window) needed before drift is measured: fewer are noise.
  static constexpr std::size_t min_drift_samples = 50;

  /// `window`: recent requests for drift and recent labelled outcomes for window accuracy;
  /// `baseline_size`: how many first requests form the drift baseline.
  version_stats(std::string model, uint32_t version, std::size_t window = 200,
                std::size_t baseline_size = 500);

  /// Counts a request; feeds the baseline (while it is filling) and the recent window.
  void on_request(const served_request& r);

  /// Counts feedback on `joined` (the request it refers to). A label makes it a labelled
  /// outcome: correct when it equals the predicted label, a correction otherwise.
  void on_feedback(const feedback_item& fb, const served_request& joined);

  /// Uses `inputs` and `predictions` (e.g. the training data's) as the drift baseline from now
  /// on, instead of the first requests.
  void set_baseline(const text_profile& inputs, const label_histogram& predictions);

  const std::string& model() const { return model_; }
  uint32_t version() const { return version_; }
  uint64_t requests() const { return requests_; }
  uint64_t labelled() const { return labelled_; }
  uint64_t corrections() const { return labelled_ - correct_; }
  uint64_t thumbs_up() const { return thumbs_up_; }
  uint64_t thumbs_down() const { return thumbs_down_; }

  /// Share of all labelled outcomes that were correct (0 when none).
  double accuracy() const;

  /// Share of the last `window` labelled outcomes that were correct (0 when none).
  double window_accuracy() const;

  /// Labelled outcomes in the window now (up to `window`).
  std::size_t window_size_now() const { return outcomes_.size(); }

  /// confusion()[truth][predicted]: labelled outcomes by the label people gave and the model's.
  const std::map<std::string, std::map<std::string, uint64_t>>& confusion() const {
    return confusion_;
  }

  /// Ten bins by confidence: [0, 0.1), ..., [0.9, 1.0].
  std::vector<calibration_bin> calibration() const;

  /// Expected calibration error: sum over bins of count / labelled * |accuracy - confidence|.
  double ece() const;

  /// PSI of the recent window's input lengths against the baseline's (0 until drift_ready()).
  double input_psi_length() const;

  /// PSI of the recent window's words against the baseline's (0 until drift_ready()).
  double input_psi_tokens() const;

  /// The larger of the two input PSIs: what the loop's psi_above trigger compares.
  double input_psi() const;

  /// PSI of the recent predicted labels against the baseline's (0 until drift_ready()).
  double prediction_psi() const;

  /// Whether both the baseline and the recent window hold enough requests to compare.
  bool drift_ready() const;

  nlohmann::json to_json() const;

private:
  struct recent_request {
    std::string text;
    std::string label;
  };
  struct bin_sums {
    uint64_t count = 0;
    double confidence = 0;
    uint64_t correct = 0;
  };

  std::string model_;
  uint32_t version_;
  std::size_t window_;
  std::size_t baseline_size_;
  bool baseline_given_ = false;

  uint64_t requests_ = 0;
  uint64_t labelled_ = 0;
  uint64_t correct_ = 0;
  uint64_t thumbs_up_ = 0;
  uint64_t thumbs_down_ = 0;
  std::deque<bool> outcomes_; ///< the window of labelled outcomes (true = correct)
  uint64_t window_correct_ = 0;
  std::map<std::string, std::map<std::string, uint64_t>> confusion_;
  std::vector<bin_sums> bins_;

  text_profile baseline_inputs_;
  label_histogram baseline_labels_;
  std::deque<recent_request> recent_; ///< kept to take them back out of the window's histograms
  text_profile recent_inputs_;
  label_histogram recent_labels_;
};

/// Every version's analysis, and the join of feedback to its request.
class feedback_analysis {
public:
  static constexpr std::size_t default_remembered = 100'000;

  /// `window` and `baseline_size` configure each version_stats; `remembered` bounds the
  /// requests feedback can still refer to.
  explicit feedback_analysis(std::size_t window = 200, std::size_t baseline_size = 500,
                             std::size_t remembered = default_remembered);

  /// Counts `r` for its version and remembers it for feedback (a repeated id replaces the
  /// earlier request).
  void on_request(const served_request& r);

  /// Joins `fb` to its request and counts it; returns the request. not_found for an id never
  /// seen or already forgotten; bad_params when fb.model names another model than served it.
  caf::expected<served_request> on_feedback(const feedback_item& fb);

  /// The analysis of (model, version), or nullptr when it served nothing yet.
  version_stats* find(const std::string& model, uint32_t version);
  const version_stats* find(const std::string& model, uint32_t version) const;

  /// The analysis of (model, version), created empty when missing (e.g. to set its baseline
  /// before it serves).
  version_stats& stats(const std::string& model, uint32_t version);

  /// Every version of `model` with analysis, by ascending version.
  std::vector<const version_stats*> of_model(const std::string& model) const;

  /// The models with analysis, by name.
  std::vector<std::string> models() const;

  /// Corrections (labels that differ from the prediction) of every version of `model` so far.
  uint64_t corrections_total(const std::string& model) const;

  /// Corrections of `model` since `mark`, a value corrections_total returned earlier.
  uint64_t corrections_since(const std::string& model, uint64_t mark) const;

  /// Requests feedback can refer to now.
  std::size_t remembered() const { return requests_.size(); }

  /// {"versions": [version_stats...], "corrections_total": {model: n}, "remembered": n}.
  nlohmann::json to_json() const;

private:
  struct remembered_request {
    uint64_t seq; ///< which entry of `order_` is this one (an id may be logged again)
    served_request request;
  };

  std::size_t window_;
  std::size_t baseline_size_;
  std::size_t limit_;
  std::map<std::pair<std::string, uint32_t>, version_stats> versions_;
  std::map<std::string, uint64_t> corrections_;
  std::unordered_map<std::string, remembered_request> requests_;
  std::deque<std::pair<std::string, uint64_t>> order_; ///< (id, seq), oldest first
  uint64_t next_seq_ = 0;
};

} // namespace llmos::feedback
