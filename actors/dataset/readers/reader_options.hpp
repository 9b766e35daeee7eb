// Small helpers the readers share for their options and error messages, so that every reader
// refuses a misspelt option the same way and every message names the source the same way.
// Options arrive as strings (from YAML); these turn them into values or a bad_config error.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

/// The quarantine rule of a reader: "<kind>_reader".
std::string reader_rule(const source_spec& spec);

/// An error whose context reads "<where>: source '<name>' (<kind>): <what>".
caf::error reader_error(error_code code, const source_spec& spec, const std::string& where,
                        const std::string& what);

/// A bad_config error for the first option of `spec` neither in `known` nor "limit" (which
/// every reader takes); an empty error when all are known.
caf::error check_options(const source_spec& spec, std::initializer_list<std::string_view> known);

/// The record limit: the smaller of spec.limit and the "limit" option where set, 0 for none.
caf::expected<uint64_t> record_limit(const source_spec& spec);

/// How every file and SQL reader starts: check_options(spec, known), then record_limit(spec).
caf::expected<uint64_t> checked_record_limit(const source_spec& spec,
                                             std::initializer_list<std::string_view> known);

/// True when `limit` is set and `emitted` has reached it.
inline bool limit_reached(uint64_t limit, uint64_t emitted) {
  return limit != 0 && emitted >= limit;
}

/// The option's value, or nullopt when it is not set.
std::optional<std::string> find_option(const source_spec& spec, const std::string& key);

/// The option's value, or `fallback` when it is not set.
std::string option_or(const source_spec& spec, const std::string& key, std::string fallback);

/// A boolean option: true/false, yes/no, on/off or 1/0; anything else is a bad_config error.
caf::expected<bool> bool_option(const source_spec& spec, const std::string& key, bool fallback);

/// A non-negative integer option; anything else is a bad_config error.
caf::expected<uint64_t> uint_option(const source_spec& spec, const std::string& key,
                                    uint64_t fallback);

} // namespace llmos::dataset
