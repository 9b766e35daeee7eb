// Field names in a message's `inspect`: the one description of a message type. CAF's inspectors
// skip these annotations (they serialize the values between nodes in order, names unused); the
// wire inspectors in llmos/runtime/wire_*.hpp read them to write and read the msgpack (RPC) and
// JSON (HTTP, REPL --json) forms. A value no field annotation names (an actor handle, a closure)
// stays inside the cluster: it has no outside form.
#pragma once

#include <cstdint>

#include <caf/meta/annotation.hpp>

namespace llmos {

/// How a field's value looks outside.
enum class field_form : uint8_t {
  value,     ///< as itself: scalars, strings, lists, maps, nested messages
  json_text, ///< a string holding JSON, written as the value it holds (text that is not JSON
             ///< as a string, "" as null)
  bytes,     ///< a string of raw bytes: msgpack bin, base64 text in JSON
};

/// Names the value that follows it in an `inspect` argument list.
struct field_t : caf::meta::annotation {
  const char* name;
  field_form form;
  bool omit_empty; ///< an empty value is left out of the outside form (read back as empty)

  constexpr field_t(const char* n, field_form f, bool omit) : name(n), form(f), omit_empty(omit) {}
};

constexpr field_t field(const char* name) {
  return {name, field_form::value, false};
}

/// A field left out while it is empty (an error text that is usually "").
constexpr field_t optional_field(const char* name) {
  return {name, field_form::value, true};
}

constexpr field_t json_field(const char* name, bool omit_empty = false) {
  return {name, field_form::json_text, omit_empty};
}

constexpr field_t bytes_field(const char* name) {
  return {name, field_form::bytes, false};
}

} // namespace llmos
