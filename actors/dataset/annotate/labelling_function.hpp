// Labelling functions (weak supervision in the style of Snorkel): small rules declared in the
// pipeline file, each voting one label or abstaining on a record's text. Here live the spec (the
// pipeline file's labelling_function_decl without its line number) and the compiled function;
// errors in a spec are found at load time, never half-way through a run. Regex functions search
// line by line (^ and $ anchor at each line; ECMAScript's . never crossed lines anyway), and
// case-insensitive regexes fold ASCII only, as std::regex does; keywords fold all of Unicode.
#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::dataset {

/// One labelling function as declared in the pipeline file.
struct labelling_function_spec {
  std::string name;
  std::string kind; ///< "keywords" (any whole-word match) or "regex" (std::regex ECMAScript)
  std::vector<std::string> patterns;
  std::string label; ///< the label it votes when a pattern matches
  double weight = 1.0;
  bool case_sensitive = false;
};

/// A compiled labelling function.
class labelling_function {
public:
  /// Checks the spec and compiles its patterns; an invalid regex is a bad_config error naming
  /// the function and the pattern.
  static caf::expected<labelling_function> compile(labelling_function_spec spec);

  /// True when the function votes on `text`; `folded` is casefold_utf8(text), computed once per
  /// record by the caller and shared by all case-insensitive keyword functions.
  bool fires(std::string_view text, std::string_view folded) const;

  /// Convenience for tests and one-off use: folds `text` itself.
  bool fires(std::string_view text) const;

  const labelling_function_spec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }
  const std::string& label() const { return spec_.label; }
  double weight() const { return spec_.weight; }

private:
  bool keywords_fire(std::string_view text, std::string_view folded) const;
  bool regex_fires(std::string_view text) const;

  labelling_function_spec spec_;
  std::vector<std::string> keywords_; ///< casefolded unless case_sensitive
  std::vector<std::regex> regexes_;
};

} // namespace llmos::dataset
