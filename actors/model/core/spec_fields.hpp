// The fields of model_spec as one table: for each, the file section and key it is written under,
// the override name, how it reads and how it prints. The parser, the command-line overrides and
// to_yaml all walk this table, so a field's range and its message exist exactly once and the
// three can never disagree. Checks that involve several fields live in check_spec.
// Include only from .cpp files that link yaml-cpp.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "llmos/runtime/yaml_fields.hpp"
#include "model/core/model_spec.hpp"

namespace llmos::model::spec_fields {

/// One settable field of model_spec.
struct field {
  std::string section; ///< "" (top level), "hyper", "lora" or "train"
  std::string key;     ///< its key inside the section ("rank" for lora_rank)
  std::string name;    ///< the override key: the member's name
  /// Reads the value of `e` into the spec; throws yaml_fields::refusal naming e.key.
  std::function<void(model_spec&, const yaml_fields::entry&)> read;
  /// The value as YAML text (a flow list for conv_channels).
  std::function<std::string(const model_spec&)> print;
};

/// Every field, in the order to_yaml writes them.
const std::vector<field>& all();

/// The field with override name `name`, or nullptr.
const field* by_name(const std::string& name);

/// The override names of all fields (for did-you-mean).
const std::vector<std::string>& names();

/// The keys of `section` as written in the file.
std::vector<std::string> keys_of(const std::string& section);

/// A problem between fields: the fields involved (the first written one is blamed) and the
/// message with the fix.
struct conflict {
  std::vector<std::string> fields;
  std::string what;
};

/// The first conflict between the fields of `spec`, if any.
std::optional<conflict> check_spec(const model_spec& spec);

} // namespace llmos::model::spec_fields
