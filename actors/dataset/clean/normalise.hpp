// Unicode normalisation for text records and the key duplicates are found by. `normalise` is
// the transforming rule (NFKC, whitespace collapsed, trimmed, case kept, so the text stays fit
// for training); `dedupe_key` is what exact and near dedupe compare (NFKC with case folding,
// punctuation and whitespace removed), so that "Hello, World" and "ＨＥＬＬＯ world!" are
// the same document.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dataset/clean/rule_stats.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// Options of normalise.
struct normalise_options {
  /// Turn every whitespace run into one space; by default a run with line breaks becomes one
  /// line break (two or more: one empty line), so paragraphs survive.
  bool collapse_newlines = false;
};

/// NFKC, whitespace runs collapsed, leading/trailing whitespace trimmed, control characters
/// and byte order marks dropped, invalid UTF-8 repaired (read as Windows-1252); case kept.
std::string normalise(std::string_view text, const normalise_options& options = {});

/// NFKC with case folding, with punctuation, whitespace and control characters removed; with
/// `keep_word_breaks` each whitespace run becomes one space instead (for word shingles).
std::string dedupe_key(std::string_view text, bool keep_word_breaks = false);

/// The rule: normalises every record's text in place; counts changed records.
rule_stats normalise(std::vector<record>& records, const normalise_options& options = {});

} // namespace llmos::dataset
