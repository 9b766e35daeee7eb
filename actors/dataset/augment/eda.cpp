#include "dataset/augment/eda.hpp"

#include "llmos/messages/enum_names.hpp"
#include "llmos/runtime/suggest.hpp"
#include <cmath>
#include <utility>

namespace llmos::dataset {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_punct(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
         (c >= '{' && c <= '~');
}

bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

char to_upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

// Gives `synonym` the capitalisation of `core`: all caps stays all caps, a capital first letter
// stays capital; otherwise the thesaurus' own spelling is kept (proper nouns keep theirs).
std::string match_case(std::string synonym, std::string_view core) {
  bool all_upper = core.size() > 1;
  for (char c : core)
    if (!is_upper(c) && !is_punct(c))
      all_upper = false;
  if (all_upper) {
    for (auto& c : synonym)
      c = to_upper(c);
  } else if (!core.empty() && is_upper(core.front()) && !synonym.empty()) {
    synonym.front() = to_upper(synonym.front());
  }
  return synonym;
}

// Fisher-Yates with the portable uniform_below.
template <class T> void shuffle(std::vector<T>& xs, std::mt19937_64& rng) {
  for (std::size_t i = xs.size(); i > 1; --i)
    std::swap(xs[i - 1], xs[uniform_below(rng, i)]);
}

} // namespace

constexpr enum_name<eda_operation> eda_names[] = {
    {eda_operation::synonym_replacement, "synonym_replacement"},
    {eda_operation::random_insertion, "random_insertion"},
    {eda_operation::random_swap, "random_swap"},
    {eda_operation::random_deletion, "random_deletion"}};

std::string_view to_string(eda_operation op) {
  return name_of(eda_names, op, "unknown");
}

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  // The modulo bias is below n / 2^64: irrelevant for picking words.
  return rng() % n;
}

bool bernoulli(std::mt19937_64& rng, double p) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53 < p;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i]))
      ++i;
    auto start = i;
    while (i < text.size() && !is_space(text[i]))
      ++i;
    if (i > start)
      words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

std::string_view token_core(std::string_view token) {
  while (!token.empty() && is_punct(token.front()))
    token.remove_prefix(1);
  while (!token.empty() && is_punct(token.back()))
    token.remove_suffix(1);
  return token;
}

std::size_t eda::change_count(double rate, std::size_t words) {
  return std::max<std::size_t>(
      1, static_cast<std::size_t>(std::floor(rate * static_cast<double>(words))));
}

bool eda::is_stop_word(std::string_view token) const {
  return stop_words_.contains(token) || stop_words_.contains(token_core(token));
}

bool eda::replaceable(std::string_view token) const {
  auto core = token_core(token);
  return !core.empty() && !is_stop_word(token) && !thesaurus_.synonyms(core).empty();
}

void eda::synonym_replacement(std::vector<std::string>& words, std::size_t n,
                              std::mt19937_64& rng) const {
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < words.size(); ++i)
    if (replaceable(words[i]))
      candidates.push_back(i);
  shuffle(candidates, rng);
  candidates.resize(std::min(n, candidates.size()));
  for (auto i : candidates) {
    auto& w = words[i];
    auto core = token_core(w);
    const auto& syns = thesaurus_.synonyms(core);
    auto prefix = static_cast<std::size_t>(core.data() - w.data());
    auto suffix = w.size() - prefix - core.size();
    w = w.substr(0, prefix) + match_case(syns[uniform_below(rng, syns.size())], core) +
        w.substr(w.size() - suffix);
  }
}

void eda::random_insertion(std::vector<std::string>& words, std::size_t n,
                           std::mt19937_64& rng) const {
  // Sources are drawn from the original words, so an inserted synonym never seeds another.
  std::vector<std::string> sources;
  for (const auto& w : words)
    if (replaceable(w))
      sources.emplace_back(token_core(w));
  if (sources.empty())
    return;
  for (std::size_t k = 0; k < n; ++k) {
    const auto& source = sources[uniform_below(rng, sources.size())];
    const auto& syns = thesaurus_.synonyms(source);
    auto syn = syns[uniform_below(rng, syns.size())];
    auto at = uniform_below(rng, words.size() + 1);
    words.insert(words.begin() + static_cast<std::ptrdiff_t>(at), std::move(syn));
  }
}

void eda::random_swap(std::vector<std::string>& words, std::size_t n, std::mt19937_64& rng) {
  if (words.size() < 2)
    return;
  for (std::size_t k = 0; k < n; ++k) {
    auto i = uniform_below(rng, words.size());
    auto j = uniform_below(rng, words.size() - 1);
    if (j >= i)
      ++j;
    std::swap(words[i], words[j]);
  }
}

void eda::random_deletion(std::vector<std::string>& words, double p, std::mt19937_64& rng) {
  if (words.size() < 2)
    return;
  std::vector<std::string> kept;
  for (auto& w : words)
    if (!bernoulli(rng, p))
      kept.push_back(std::move(w));
  // The paper keeps one random word when everything would go: a record never becomes empty.
  if (kept.empty())
    kept.push_back(std::move(words[uniform_below(rng, words.size())]));
  words = std::move(kept);
}

std::string eda::apply(eda_operation op, std::string_view text, double rate,
                       std::mt19937_64& rng) const {
  auto words = split_words(text);
  const auto n = change_count(rate, words.size());
  switch (op) {
  case eda_operation::synonym_replacement:
    synonym_replacement(words, n, rng);
    break;
  case eda_operation::random_insertion:
    random_insertion(words, n, rng);
    break;
  case eda_operation::random_swap:
    random_swap(words, n, rng);
    break;
  case eda_operation::random_deletion:
    random_deletion(words, rate, rng);
    break;
  }
  return join_words(words, " ");
}

} // namespace llmos::dataset
