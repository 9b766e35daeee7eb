#include "dataset/clean/cleaner.hpp"

#include <algorithm>
#include <charconv>
#include <iomanip>
#include <sstream>
#include <type_traits>
#include <variant>

#include "dataset/clean/cross_dedupe.hpp"
#include "dataset/clean/email_text.hpp"
#include "dataset/clean/exact_dedupe.hpp"
#include "dataset/clean/filters.hpp"
#include "dataset/clean/near_dedupe.hpp"
#include "dataset/clean/normalise.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

struct exact_dedupe_options {};

using rule_options = std::variant<email_options, normalise_options, exact_dedupe_options,
                                  near_dedupe_options, length_options, non_text_options>;

struct parsed_rule {
  std::string name;
  rule_options options;
};

// The options each rule accepts, for the unknown-option check and its message.
const std::map<std::string, std::vector<std::string>>& rule_table() {
  static const std::map<std::string, std::vector<std::string>> table{
      {"email_to_text", {"keep_quoted_replies"}},
      {"normalise", {"collapse_newlines"}},
      {"exact_dedupe", {}},
      {"near_dedupe",
       {"shingle", "unit", "bands", "rows", "num_perm", "threshold", "seed", "verify"}},
      {"length_filter", {"min_chars", "max_chars"}},
      {"non_text_filter", {"min_text_ratio", "max_word_length"}}};
  return table;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// Reads the typed options of one spec; every failure names the rule, the option and the value.
class option_reader {
public:
  explicit option_reader(const clean_rule_spec& spec) : spec_(spec) {}

  caf::error error(const std::string& key, const std::string& what) const {
    return make_llmos_error(error_code::bad_config, "clean rule '" + spec_.rule + "': option '" +
                                                        key + "' must be " + what + ", got '" +
                                                        spec_.options.at(key) + "'");
  }

  bool has(const std::string& key) const { return spec_.options.count(key) > 0; }

  /// The raw text of an option ("" when absent).
  std::string text(const std::string& key) const {
    const auto it = spec_.options.find(key);
    return it == spec_.options.end() ? std::string{} : it->second;
  }

  caf::error read(const std::string& key, bool& out) const {
    if (!has(key))
      return {};
    const auto& v = spec_.options.at(key);
    if (v == "true" || v == "yes" || v == "1")
      out = true;
    else if (v == "false" || v == "no" || v == "0")
      out = false;
    else
      return error(key, "true or false");
    return {};
  }

  caf::error read(const std::string& key, uint64_t& out, uint64_t min = 0) const {
    if (!has(key))
      return {};
    const auto& v = spec_.options.at(key);
    uint64_t x = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc{} || end != v.data() + v.size() || x < min)
      return error(key, "an integer >= " + std::to_string(min));
    out = x;
    return {};
  }

  caf::error read(const std::string& key, double& out, double lo, double hi) const {
    if (!has(key))
      return {};
    const auto& v = spec_.options.at(key);
    double x = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc{} || end != v.data() + v.size() || !(x >= lo && x <= hi)) {
      std::ostringstream range;
      range << "a number in [" << lo << ", " << hi << "]";
      return error(key, range.str());
    }
    out = x;
    return {};
  }

private:
  const clean_rule_spec& spec_;
};

caf::expected<near_dedupe_options> read_near_dedupe(const option_reader& in) {
  near_dedupe_options o;
  uint64_t k = o.shingles.k;
  uint64_t bands = o.lsh.bands;
  uint64_t rows = o.lsh.rows;
  uint64_t num_perm = 0;
  if (auto err = in.read("shingle", k, 1))
    return err;
  if (auto err = in.read("bands", bands, 1))
    return err;
  if (auto err = in.read("rows", rows, 1))
    return err;
  if (auto err = in.read("num_perm", num_perm, 1))
    return err;
  if (auto err = in.read("threshold", o.threshold, 0.0, 1.0))
    return err;
  if (auto err = in.read("seed", o.seed))
    return err;
  // Bounded one by one first so that no product below can overflow.
  for (const auto& [key, v] : {std::pair{"bands", bands}, {"rows", rows}, {"num_perm", num_perm}})
    if (v > 4096)
      return in.error(key, "at most 4096");
  if (num_perm > 0) {
    // num_perm fixes the product; whichever of bands and rows is not given follows from it.
    if (in.has("bands") && in.has("rows")) {
      if (bands * rows != num_perm)
        return in.error("num_perm", "bands * rows (" + std::to_string(bands * rows) + ")");
    } else if (in.has("rows")) {
      bands = num_perm / rows;
    } else {
      rows = num_perm / bands;
    }
    if (bands * rows != num_perm || bands == 0 || rows == 0)
      return in.error("num_perm", "a multiple of bands (" + std::to_string(bands) + ")");
  }
  if (bands * rows > 4096)
    return in.error(in.has("bands") ? "bands" : "rows", "such that bands * rows <= 4096");
  if (in.has("unit")) {
    const auto v = in.text("unit");
    if (v == "char" || v == "character")
      o.shingles.unit = shingle_unit::character;
    else if (v == "word")
      o.shingles.unit = shingle_unit::word;
    else
      return in.error("unit", "char or word");
  }
  if (in.has("verify")) {
    const auto v = in.text("verify");
    if (v == "estimate")
      o.verify = verify_mode::estimate;
    else if (v == "exact")
      o.verify = verify_mode::exact;
    else
      return in.error("verify", "estimate or exact");
  }
  o.shingles.k = k;
  o.lsh.bands = bands;
  o.lsh.rows = rows;
  return o;
}

caf::expected<rule_options> read_options(const clean_rule_spec& spec) {
  const option_reader in{spec};
  if (spec.rule == "email_to_text") {
    email_options o;
    if (auto err = in.read("keep_quoted_replies", o.keep_quoted_replies))
      return err;
    return rule_options{o};
  }
  if (spec.rule == "normalise") {
    normalise_options o;
    if (auto err = in.read("collapse_newlines", o.collapse_newlines))
      return err;
    return rule_options{o};
  }
  if (spec.rule == "exact_dedupe")
    return rule_options{exact_dedupe_options{}};
  if (spec.rule == "near_dedupe") {
    auto o = read_near_dedupe(in);
    if (!o)
      return o.error();
    return rule_options{*o};
  }
  if (spec.rule == "length_filter") {
    length_options o;
    uint64_t lo = o.min_chars;
    uint64_t hi = o.max_chars;
    if (auto err = in.read("min_chars", lo))
      return err;
    if (auto err = in.read("max_chars", hi))
      return err;
    if (lo > hi)
      return in.error("max_chars", "at least min_chars (" + std::to_string(lo) + ")");
    o.min_chars = lo;
    o.max_chars = hi;
    return rule_options{o};
  }
  non_text_options o; // the table check has left no other name
  uint64_t word = o.max_word_length;
  if (auto err = in.read("min_text_ratio", o.min_text_ratio, 0.0, 1.0))
    return err;
  if (auto err = in.read("max_word_length", word, 1))
    return err;
  o.max_word_length = word;
  return rule_options{o};
}

caf::expected<parsed_rule> parse(const clean_rule_spec& spec) {
  const auto& table = rule_table();
  const auto it = table.find(spec.rule);
  if (it == table.end())
    return make_llmos_error(error_code::bad_config, "unknown clean rule '" + spec.rule +
                                                        "' (known: " + join(clean_rule_names()) +
                                                        ")");
  for (const auto& [key, value] : spec.options) {
    if (std::find(it->second.begin(), it->second.end(), key) == it->second.end())
      return make_llmos_error(error_code::bad_config, "clean rule '" + spec.rule +
                                                          "': unknown option '" + key +
                                                          "' (known: " + join(it->second) + ")");
  }
  auto options = read_options(spec);
  if (!options)
    return options.error();
  return parsed_rule{spec.rule, std::move(*options)};
}

} // namespace

std::string clean_report::to_string() const {
  std::ostringstream os;
  os << std::left << std::setw(18) << "rule" << std::right << std::setw(10) << "removed"
     << std::setw(10) << "modified"
     << "   first example\n";
  for (const auto& r : rules) {
    os << std::left << std::setw(18) << r.rule << std::right << std::setw(10) << r.removed
       << std::setw(10) << r.modified;
    if (!r.examples.empty())
      os << "   " << r.examples.front().id << ": " << r.examples.front().reason;
    os << "\n";
  }
  os << records_in << " records in, " << records_out << " out\n";
  return os.str();
}

const std::vector<std::string>& clean_rule_names() {
  static const std::vector<std::string> names{"email_to_text", "normalise",     "exact_dedupe",
                                              "near_dedupe",   "length_filter", "non_text_filter"};
  return names;
}

caf::expected<void> validate_rules(const std::vector<clean_rule_spec>& specs) {
  for (const auto& spec : specs)
    if (auto parsed = parse(spec); !parsed)
      return parsed.error();
  return caf::unit;
}

caf::expected<clean_report> run_rules(std::vector<record>& records,
                                      const std::vector<clean_rule_spec>& specs, quarantine& q) {
  std::vector<parsed_rule> rules;
  for (const auto& spec : specs) {
    auto parsed = parse(spec);
    if (!parsed)
      return parsed.error();
    rules.push_back(std::move(*parsed));
  }
  clean_report report;
  report.records_in = records.size();
  for (const auto& rule : rules) {
    auto stats = std::visit(
        [&](const auto& o) -> rule_stats {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, email_options>)
            return email_to_text(records, o);
          else if constexpr (std::is_same_v<T, normalise_options>)
            return normalise(records, o);
          else if constexpr (std::is_same_v<T, exact_dedupe_options>)
            return exact_dedupe(records, q);
          else if constexpr (std::is_same_v<T, near_dedupe_options>)
            return near_dedupe(records, q, o);
          else if constexpr (std::is_same_v<T, length_options>)
            return length_filter(records, q, o);
          else
            return non_text_filter(records, q, o);
        },
        rule.options);
    report.rules.push_back(std::move(stats));
  }
  report.records_out = records.size();
  return report;
}

caf::expected<std::optional<near_dedupe_options>>
near_options_of(const std::vector<clean_rule_spec>& specs) {
  for (const auto& spec : specs) {
    auto parsed = parse(spec);
    if (!parsed)
      return parsed.error();
    if (const auto* near = std::get_if<near_dedupe_options>(&parsed->options))
      return std::optional<near_dedupe_options>{*near};
  }
  return std::optional<near_dedupe_options>{};
}

caf::expected<std::vector<rule_stats>>
dedupe_against_stored(std::vector<record>& fresh, const stored_keys& stored,
                      const stored_texts_fn& texts, const std::vector<clean_rule_spec>& specs,
                      quarantine& q) {
  std::vector<rule_stats> out;
  for (const auto& spec : specs) {
    auto parsed = parse(spec);
    if (!parsed)
      return parsed.error();
    caf::expected<rule_stats> stats{rule_stats{}};
    if (std::holds_alternative<exact_dedupe_options>(parsed->options))
      stats = exact_dedupe_against(fresh, stored, texts, q);
    else if (const auto* near = std::get_if<near_dedupe_options>(&parsed->options))
      stats = near_dedupe_against(fresh, stored, texts, q, *near);
    else
      continue;
    if (!stats)
      return stats.error();
    out.push_back(std::move(*stats));
  }
  return out;
}

} // namespace llmos::dataset
