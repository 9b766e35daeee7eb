#include "feedback/core/feedback_event.hpp"

#include <cmath>
#include <limits>
#include <utility>

#include "llmos/messages/error.hpp"

namespace llmos::feedback {

using json = nlohmann::json;

namespace {

// Thrown by the field readers below and turned into one bad_params error at the entry points,
// so each reader can stop at the first bad field without error plumbing.
struct bad_field {
  std::string what;
};

/// A value as it appears in the input, shortened: long texts do not belong in error messages.
std::string shown(const json& v) {
  auto text = v.dump();
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

// Reads the fields of one JSON object, naming `where` and the field in every refusal.
class field_reader {
public:
  field_reader(const json& j, const std::string& where) : j_(j), where_(where) {
    if (!j.is_object())
      throw bad_field{where + ": must be a JSON object, got " + shown(j)};
  }

  [[noreturn]] void refuse(const std::string& key, const std::string& what) const {
    throw bad_field{where_ + ": field '" + key + "' " + what};
  }

  /// Refuses the record as a whole, not one field of it.
  [[noreturn]] void refuse_record(const std::string& what) const {
    throw bad_field{where_ + ": " + what};
  }

  /// The value of `key`, or nullptr when it is absent or null.
  const json* find(const std::string& key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  const json& require(const std::string& key, const std::string& why) const {
    const auto* v = find(key);
    if (v == nullptr)
      refuse(key, "is missing; " + why);
    return *v;
  }

  std::string text(const std::string& key) const {
    const auto* v = find(key);
    if (v == nullptr)
      return {};
    if (!v->is_string())
      refuse(key, "must be a string, got " + shown(*v));
    return v->get<std::string>();
  }

  /// A string that must be there and not be empty: `missing` and `empty` say why.
  std::string nonempty_text(const std::string& key, const std::string& missing,
                            const std::string& empty) const {
    require(key, missing);
    auto s = text(key);
    if (s.empty())
      refuse(key, "must not be empty; " + empty);
    return s;
  }

  /// A whole number in [lo, hi] (0 when absent); `range` words what is allowed.
  int64_t whole(const std::string& key, int64_t lo, int64_t hi, const std::string& range) const {
    const auto* v = find(key);
    if (v == nullptr)
      return 0;
    if (!v->is_number_integer() || v->get<int64_t>() < lo || v->get<int64_t>() > hi)
      refuse(key, "must be " + range + ", got " + shown(*v));
    return v->get<int64_t>();
  }

  /// A finite number in [lo, hi] (0 when absent).
  double number(const std::string& key, double lo, double hi, const std::string& range) const {
    const auto* v = find(key);
    if (v == nullptr)
      return 0;
    if (!v->is_number())
      refuse(key, "must be a number " + range + ", got " + shown(*v));
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
      refuse(key, "must be a number " + range + ", got " + shown(*v));
    return x;
  }

  void expect_kind(const std::string& kind) const {
    const auto* v = find("kind");
    if (v != nullptr && (!v->is_string() || v->get<std::string>() != kind))
      refuse("kind", "must be \"" + kind + "\", got " + shown(*v));
  }

private:
  const json& j_;
  const std::string& where_;
};

/// What `read` makes of the record of kind `kind` in `j`: the first bad field (bad_field) becomes
/// one bad_params error.
template <class Read>
auto read_record(const json& j, const std::string& where, const std::string& kind, Read read)
    -> caf::expected<decltype(read(std::declval<const field_reader&>()))> {
  try {
    const field_reader f{j, where};
    f.expect_kind(kind);
    return read(f);
  } catch (const bad_field& e) {
    return make_llmos_error(error_code::bad_params, e.what);
  }
}

served_request read_served(const field_reader& f) {
  served_request r;
  r.id = f.nonempty_text("id", "every request record names its id",
                         "feedback refers to the request by it");
  r.model =
      f.nonempty_text("model", "name the model that answered", "name the model that answered");
  f.require("version", "give the model version that answered");
  r.version = static_cast<uint32_t>(f.whole("version", 0, std::numeric_limits<uint32_t>::max(),
                                            "a whole number from 0 to 4294967295"));
  r.text = f.text("text");
  r.label = f.text("label");
  r.confidence = f.number("confidence", 0, 1, "from 0 to 1");
  r.completion = f.text("completion");
  r.time = f.number("time", 0, std::numeric_limits<double>::max(), "of seconds since the epoch");
  return r;
}

feedback_item read_feedback(const field_reader& f) {
  feedback_item fb;
  fb.request_id = f.nonempty_text("request_id", "name the request the feedback is about",
                                  "name the request the feedback is about");
  fb.model = f.text("model");
  fb.rating = static_cast<int>(f.whole("rating", -1, 1, "-1, 0 or 1"));
  fb.label = f.text("label");
  fb.completion = f.text("completion");
  fb.comment = f.text("comment");
  fb.time = f.number("time", 0, std::numeric_limits<double>::max(), "of seconds since the epoch");
  if (fb.rating == 0 && fb.label.empty() && fb.completion.empty())
    f.refuse_record("the feedback says nothing; give at least one of 'rating' (-1 or 1), 'label' "
                    "or 'completion'");
  return fb;
}

} // namespace

json to_json(const served_request& r) {
  return json{{"kind", "request"},
              {"id", r.id},
              {"model", r.model},
              {"version", r.version},
              {"text", r.text},
              {"label", r.label},
              {"confidence", r.confidence},
              {"completion", r.completion},
              {"time", r.time}};
}

json to_json(const feedback_item& f) {
  return json{{"kind", "feedback"},   {"request_id", f.request_id},
              {"model", f.model},     {"rating", f.rating},
              {"label", f.label},     {"completion", f.completion},
              {"comment", f.comment}, {"time", f.time}};
}

caf::expected<served_request> served_from_json(const json& j, const std::string& where) {
  return read_record(j, where, "request", read_served);
}

caf::expected<feedback_item> feedback_from_json(const json& j, const std::string& where) {
  return read_record(j, where, "feedback", read_feedback);
}

caf::expected<feedback_event> event_from_json(const json& j, const std::string& where) {
  const auto kind = j.is_object() && j.contains("kind") && j["kind"].is_string()
                        ? j["kind"].get<std::string>()
                        : std::string{};
  if (kind == "request") {
    auto r = served_from_json(j, where);
    return r ? caf::expected<feedback_event>{std::move(*r)} : r.error();
  }
  if (kind == "feedback") {
    auto f = feedback_from_json(j, where);
    return f ? caf::expected<feedback_event>{std::move(*f)} : f.error();
  }
  return make_llmos_error(
      error_code::bad_params,
      where + ": field 'kind' must be \"request\" or \"feedback\", got " +
          (j.is_object() && j.contains("kind") ? shown(j["kind"]) : std::string("nothing")));
}

} // namespace llmos::feedback
