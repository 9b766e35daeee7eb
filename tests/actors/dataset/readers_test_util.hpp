// Helpers shared by the reader tests: a call that runs a reader and collects what it emitted and
// what it quarantined, and the checks of what a reader refuses and the message it gives. Their
// files go in a temp_folder (tests/temp_folder.hpp).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../../temp_folder.hpp"
#include "dataset/readers/reader.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

/// What one read produced.
struct read_result {
  bool ok = false;
  uint64_t count = 0;
  std::string error; ///< describe() of the error when !ok
  std::vector<record> records;
  quarantine q;

  /// The quarantine entries of the source's rule, in order (at most the first five).
  std::vector<quarantine_entry> refused(const std::string& rule) const {
    auto it = q.examples().find(rule);
    return it == q.examples().end() ? std::vector<quarantine_entry>{} : it->second;
  }
  uint64_t refused_count(const std::string& rule) const {
    auto it = q.counts().find(rule);
    return it == q.counts().end() ? 0 : it->second;
  }
};

/// Runs read_source on `spec` and collects everything.
inline read_result read_all(const source_spec& spec) {
  read_result out;
  auto n = read_source(spec, out.q, [&](record&& r) { out.records.push_back(std::move(r)); });
  if (n) {
    out.ok = true;
    out.count = *n;
  } else {
    out.error = describe(n.error());
  }
  return out;
}

/// Runs read_source on `spec`, which must be refused; the refusal (describe() of the error).
inline std::string refusal_of(const source_spec& spec) {
  auto res = read_all(spec);
  EXPECT_FALSE(res.ok) << "source '" << spec.name << "' was read: " << res.count << " records";
  return res.error;
}

/// A mistake in a source's options, and what the reader's refusal must say.
struct refusal_case {
  std::map<std::string, std::string> options;
  std::vector<std::string> words; ///< each in the refusal
};

/// `spec` with each case's options instead of its own is refused with the case's words.
inline void expect_refusals(const source_spec& spec, const std::vector<refusal_case>& cases) {
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE("refusal case " + std::to_string(i));
    auto with = spec;
    with.options = c.options;
    const auto got = refusal_of(with);
    for (const auto& word : c.words)
      EXPECT_NE(got.find(word), std::string::npos) << "missing '" << word << "' in: " << got;
  }
}

} // namespace llmos::dataset
