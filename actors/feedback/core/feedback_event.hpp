// The two kinds of record in the feedback log, and their JSON (one JSON object per record):
// a request a model version answered (what it saw and what it said), and feedback a person
// gave on one such request (a rating, the right label, a better completion). Feedback refers to
// its request by id; the analysis joins the two. Reading from JSON checks every field, because
// feedback arrives from outside (HTTP clients) and a bad record must be refused with a message
// that names the field, not half-counted.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

namespace llmos::feedback {

/// A request a model version answered.
struct served_request {
  std::string id;    ///< what feedback refers to; unique per served text
  std::string model; ///< registry model name
  uint32_t version = 0;
  std::string text;       ///< the input the model saw
  std::string label;      ///< a classifier's predicted label ("" for language models)
  double confidence = 0;  ///< the classifier's probability of `label`, 0..1
  std::string completion; ///< a language model's answer ("" for classifiers)
  double time = 0;        ///< seconds since the epoch when it was answered
};

/// What a person said about one served request.
struct feedback_item {
  std::string request_id;
  std::string model;      ///< "" = whichever served the request
  int rating = 0;         ///< -1 thumbs down, 0 none, +1 thumbs up
  std::string label;      ///< the correct label (confirming or correcting); "" = none
  std::string completion; ///< a preferred completion; "" = none
  std::string comment;
  double time = 0; ///< seconds since the epoch when it was given
};

/// Either record of the log.
using feedback_event = std::variant<served_request, feedback_item>;

/// {"kind": "request", "id", "model", "version", "text", "label", "confidence", "completion",
/// "time"}.
nlohmann::json to_json(const served_request& r);

/// {"kind": "feedback", "request_id", "model", "rating", "label", "completion", "comment",
/// "time"}.
nlohmann::json to_json(const feedback_item& f);

/// A served request from JSON: id, model and version are required; the other fields default as
/// in the struct; keys this version does not know are ignored (newer writers may add some).
/// bad_params errors read "WHERE: field 'F' must be ..., got ...".
caf::expected<served_request> served_from_json(const nlohmann::json& j, const std::string& where);

/// Feedback from JSON: request_id is required and non-empty, rating is -1, 0 or 1, and at least
/// one of rating, label and completion says something. Errors as for served_from_json.
caf::expected<feedback_item> feedback_from_json(const nlohmann::json& j, const std::string& where);

/// Either record, by its "kind" ("request" or "feedback").
caf::expected<feedback_event> event_from_json(const nlohmann::json& j, const std::string& where);

} // namespace llmos::feedback
