#include "feedback/core/drift.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include <xxhash.h>

namespace llmos::feedback {

double psi(const std::vector<double>& expected, const std::vector<double>& actual, double floor) {
  if (expected.size() != actual.size())
    return std::numeric_limits<double>::quiet_NaN();
  const double e_total = std::accumulate(expected.begin(), expected.end(), 0.0);
  const double a_total = std::accumulate(actual.begin(), actual.end(), 0.0);
  if (expected.empty() || e_total <= 0 || a_total <= 0)
    return 0;
  double sum = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double e = std::max(expected[i] / e_total, floor);
    const double a = std::max(actual[i] / a_total, floor);
    sum += (a - e) * std::log(a / e);
  }
  return sum;
}

text_profile::text_profile() : lengths_(length_bins, 0.0), tokens_(token_buckets, 0.0) {}

std::size_t text_profile::length_bin(uint64_t words) {
  // bit_width is floor(log2(n)) + 1 for n > 0 and 0 for 0: exactly the bin numbering.
  return std::min<std::size_t>(std::bit_width(words), length_bins - 1);
}

std::size_t text_profile::token_bucket(std::string_view word) {
  return static_cast<std::size_t>(XXH3_64bits(word.data(), word.size()) % token_buckets);
}

void text_profile::add(std::string_view text) {
  count_text(text, 1.0);
  ++count_;
}

void text_profile::remove(std::string_view text) {
  count_text(text, -1.0);
  if (count_ > 0)
    --count_;
}

void text_profile::count_text(std::string_view text, double sign) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  uint64_t words = 0;
  std::string word;
  for (std::size_t i = 0; i < text.size();) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    word.clear();
    for (; i < text.size() && !is_space(text[i]); ++i)
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
    tokens_[token_bucket(word)] += sign;
    ++words;
  }
  lengths_[length_bin(words)] += sign;
}

void label_histogram::add(const std::string& label) {
  ++counts_[label];
  ++count_;
}

void label_histogram::remove(const std::string& label) {
  auto it = counts_.find(label);
  if (it == counts_.end())
    return;
  if (--it->second == 0)
    counts_.erase(it);
  --count_;
}

uint64_t label_histogram::of(const std::string& label) const {
  auto it = counts_.find(label);
  return it == counts_.end() ? 0 : it->second;
}

double label_histogram::psi_against(const label_histogram& baseline) const {
  std::vector<double> expected, actual;
  // Both maps are sorted: walk them together to align the union of labels.
  auto b = baseline.counts_.begin();
  auto a = counts_.begin();
  while (b != baseline.counts_.end() || a != counts_.end()) {
    if (a == counts_.end() || (b != baseline.counts_.end() && b->first < a->first)) {
      expected.push_back(static_cast<double>(b->second));
      actual.push_back(0);
      ++b;
    } else if (b == baseline.counts_.end() || a->first < b->first) {
      expected.push_back(0);
      actual.push_back(static_cast<double>(a->second));
      ++a;
    } else {
      expected.push_back(static_cast<double>(b->second));
      actual.push_back(static_cast<double>(a->second));
      ++a;
      ++b;
    }
  }
  return psi(expected, actual);
}

} // namespace llmos::feedback
