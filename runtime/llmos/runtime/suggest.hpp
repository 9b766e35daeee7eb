// "Did you mean ...?" for messages that refuse a misspelt name: the closest of a list of known
// words by edit distance. Used by the topology parser and the actor-kind table so that a typo in
// a file is answered with the word the user meant, not only a list to read through.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llmos {

/// Edit distance between `a` and `b`: insertions, deletions, substitutions and swaps of two
/// neighbouring characters each cost one (optimal string alignment distance).
std::size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `word` within distance 2 (ties: the earlier candidate), or "" when
/// none is that close or the distance is not smaller than the word itself (so "x" does not
/// suggest "ab").
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

/// "did you mean 'M'? " where M is closest_match(word, candidates), or "" when nothing is close:
/// the middle of a refusal that goes on to list the candidates.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

/// `items` joined with `separator` (", " for "known keys: a, b, c").
std::string join_words(const std::vector<std::string>& items, std::string_view separator = ", ");

} // namespace llmos
