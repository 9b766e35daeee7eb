#include "dataset/annotate/labeller.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "dataset/annotate/text_match.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

bool same_weight(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)});
}

std::string format_confidence(double x) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(x);
}

// The context make_llmos_error stored, without the code name describe() puts in front.
std::string context_of(const caf::error& err) {
  const auto& ctx = err.context();
  return ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0) : llmos::describe(err);
}

double share(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

} // namespace

combined_vote weighted_majority(const std::vector<lf_vote>& votes) {
  // Few labels per record: a flat list beats a map here.
  std::vector<std::pair<std::string_view, double>> sums;
  combined_vote out;
  for (const auto& v : votes) {
    auto it = std::find_if(sums.begin(), sums.end(), [&](auto& s) { return s.first == v.label; });
    if (it == sums.end())
      sums.emplace_back(v.label, v.weight);
    else
      it->second += v.weight;
    out.total_weight += v.weight;
    ++out.voters;
  }
  if (sums.empty())
    return out;
  auto best = std::max_element(sums.begin(), sums.end(),
                               [](auto& a, auto& b) { return a.second < b.second; });
  for (auto it = sums.begin(); it != sums.end(); ++it)
    if (it != best && same_weight(it->second, best->second)) {
      out.tie = true;
      return out;
    }
  out.label = std::string{best->first};
  out.weight = best->second;
  return out;
}

caf::expected<labeller> labeller::make(std::vector<labelling_function_spec> specs) {
  labeller result;
  std::set<std::string> names;
  for (auto& spec : specs) {
    if (!names.insert(spec.name).second)
      return make_llmos_error(error_code::bad_config,
                              "labelling function '" + spec.name +
                                  "' is declared twice; names must be unique");
    auto lf = labelling_function::compile(std::move(spec));
    if (!lf)
      return std::move(lf.error());
    result.functions_.push_back(std::move(*lf));
  }
  return result;
}

caf::expected<labeller> labeller::from_pipeline(const std::vector<labelling_function_decl>& decls,
                                                const std::string& file) {
  labeller result;
  std::set<std::string> names;
  for (const auto& d : decls) {
    const auto at = file + ":" + std::to_string(d.line) + ": ";
    if (!names.insert(d.name).second)
      return make_llmos_error(error_code::bad_config, at + "labelling function '" + d.name +
                                                          "' is declared twice; rename one");
    auto lf = labelling_function::compile(
        {d.name, d.kind, d.patterns, d.label, d.weight, d.case_sensitive});
    if (!lf)
      return make_llmos_error(error_code::bad_config, at + context_of(lf.error()));
    result.functions_.push_back(std::move(*lf));
  }
  return result;
}

std::vector<bool> labeller::votes(std::string_view text) const {
  std::vector<bool> fired(functions_.size(), false);
  if (text.empty())
    return fired;
  const auto folded = casefold_utf8(text);
  for (std::size_t i = 0; i < functions_.size(); ++i)
    fired[i] = functions_[i].fires(text, folded);
  return fired;
}

combined_vote labeller::vote(std::string_view text) const {
  return combine(votes(text));
}

combined_vote labeller::combine(const std::vector<bool>& fired) const {
  std::vector<lf_vote> cast;
  for (std::size_t i = 0; i < functions_.size(); ++i)
    if (fired[i])
      cast.push_back({functions_[i].label(), functions_[i].weight()});
  return weighted_majority(cast);
}

namespace {

/// One record's votes counted: how many functions fired, whether they overlap or disagree,
/// and each voter's agreement with the gold label.
void count_votes(annotation_stats& st, const std::vector<bool>& fired, const std::string& gold) {
  std::size_t voters = 0;
  std::set<std::string_view> labels;
  for (std::size_t i = 0; i < fired.size(); ++i)
    if (fired[i]) {
      ++voters;
      labels.insert(st.functions[i].label);
    }
  st.covered += voters > 0;
  st.overlapped += voters > 1;
  st.conflicted += labels.size() > 1;
  for (std::size_t i = 0; i < fired.size(); ++i) {
    if (!fired[i])
      continue;
    auto& f = st.functions[i];
    ++f.votes;
    f.overlaps += voters > 1;
    // Another function voted a different label iff some voter's label is not ours.
    f.conflicts += labels.size() > 1;
    if (!gold.empty()) {
      ++f.gold_votes;
      f.correct += gold == f.label;
    }
  }
}

/// The combined vote labels a record without one (or, with overwrite, one that disagrees);
/// a gold label is scored against it.
void apply_vote(annotation_stats& st, record& r, const combined_vote& combined,
                const std::string& gold, const annotate_options& opts) {
  st.ties += combined.tie;
  if (combined.label.empty()) {
    if (!gold.empty())
      ++st.kept;
    return;
  }
  if (!gold.empty()) {
    ++st.gold_scored;
    st.gold_correct += gold == combined.label;
  }
  if (gold.empty() || (opts.overwrite && gold != combined.label)) {
    ++(gold.empty() ? st.labelled : st.relabelled);
    r.label = combined.label;
    r.meta["label_source"] = "labelling_functions";
    r.meta["label_confidence"] = format_confidence(combined.confidence());
  } else {
    ++st.kept;
  }
}

/// Counts become shares of the records (and of the gold-labelled ones for accuracy).
void finish_shares(annotation_stats& st) {
  st.coverage = share(st.covered, st.records);
  st.overlap = share(st.overlapped, st.records);
  st.conflict = share(st.conflicted, st.records);
  if (st.gold_scored > 0)
    st.accuracy = share(st.gold_correct, st.gold_scored);
  for (auto& f : st.functions) {
    f.coverage = share(f.votes, st.records);
    f.overlap = share(f.overlaps, st.records);
    f.conflict = share(f.conflicts, st.records);
    if (f.gold_votes > 0)
      f.accuracy = share(f.correct, f.gold_votes);
  }
}

} // namespace

annotation_stats labeller::annotate(std::vector<record>& records,
                                    const annotate_options& opts) const {
  annotation_stats st;
  st.records = records.size();
  for (const auto& lf : functions_) {
    auto& f = st.functions.emplace_back();
    f.name = lf.name();
    f.label = lf.label();
  }
  for (auto& r : records) {
    const auto fired = votes(r.text);
    const auto gold = r.label;
    count_votes(st, fired, gold);
    apply_vote(st, r, combine(fired), gold, opts);
    if (r.label.empty())
      ++st.unlabelled;
    else
      ++st.label_distribution[r.label];
  }
  finish_shares(st);
  return st;
}

} // namespace llmos::dataset
