// The JSON form (HTTP, REPL --json) of every message, generated from its `inspect` like the
// msgpack form (wire_msgpack.hpp), with the same names: objects of named fields, enums as their
// names, json_text fields as the value they hold, bytes fields as base64 text.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "llmos/runtime/wire_fields.hpp"

namespace llmos::wire {

template <class T> nlohmann::json to_json(const T& x);

namespace detail {

template <class T> nlohmann::json json_value(const T& x) {
  if constexpr (is_message<T>::value) {
    return wire::to_json(x);
  } else if constexpr (std::is_enum_v<T>) {
    return std::string{to_string(x)};
  } else if constexpr (is_list<T>::value) {
    auto out = nlohmann::json::array();
    for (const auto& item : x)
      out.push_back(json_value(item));
    return out;
  } else if constexpr (is_text_map<T>::value) {
    auto out = nlohmann::json::object();
    for (const auto& [k, v] : x)
      out[k] = json_value(v);
    return out;
  } else {
    return x;
  }
}

template <class T> nlohmann::json json_field(const field_t& f, const T& x) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (f.form == field_form::json_text)
      return json_or_text(x);
    if (f.form == field_form::bytes)
      return base64_encode(x);
  }
  return json_value(x);
}

} // namespace detail

/// Message `x` as a JSON object of its named fields (a list of messages as an array of them).
template <class T> nlohmann::json to_json(const T& x) {
  if constexpr (!is_message<T>::value) {
    return detail::json_value(x);
  } else {
    auto& m = const_cast<T&>(x); // inspect takes T&; the walk only reads
    auto out = nlohmann::json::object();
    for_each_field(m, [&](const field_t& f, const auto& v) {
      if (!(f.omit_empty && is_empty(v)))
        out[f.name] = detail::json_field(f, v);
    });
    return out;
  }
}

template <class T> std::string from_json(const nlohmann::json& j, T& x);

namespace detail {

std::string json_mismatch(const std::string& at, const char* wanted, const nlohmann::json& got);

template <class T> std::string json_number(const nlohmann::json& j, T& x, const std::string& at) {
  using lim = std::numeric_limits<T>;
  if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number())
      return json_mismatch(at, "a number", j);
    x = j.get<T>();
  } else if (j.is_number_unsigned() && j.get<uint64_t>() <= static_cast<uint64_t>(lim::max())) {
    x = static_cast<T>(j.get<uint64_t>());
  } else if (j.is_number_integer() && !j.is_number_unsigned() && lim::is_signed &&
             j.get<int64_t>() >= static_cast<int64_t>(lim::min()) &&
             j.get<int64_t>() <= static_cast<int64_t>(lim::max())) {
    x = static_cast<T>(j.get<int64_t>());
  } else {
    return json_mismatch(
        at, lim::is_signed ? "an integer in range" : "an unsigned integer in range", j);
  }
  return {};
}

template <class T> std::string json_read(const nlohmann::json& j, T& x, const std::string& at) {
  if constexpr (is_message<T>::value) {
    return inside(at, wire::from_json(j, x));
  } else if constexpr (std::is_same_v<T, std::string> || std::is_enum_v<T>) {
    if (!j.is_string())
      return json_mismatch(at, "a string", j);
    if constexpr (std::is_enum_v<T>) {
      if (!from_string(j.get_ref<const std::string&>(), x))
        return at + ": '" + j.get<std::string>() + "' is not one of its names";
    } else {
      x = j.get<std::string>();
    }
    return {};
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean())
      return json_mismatch(at, "a boolean", j);
    x = j.get<bool>();
    return {};
  } else if constexpr (std::is_arithmetic_v<T>) {
    return json_number(j, x, at);
  } else if constexpr (is_list<T>::value) {
    if (!j.is_array())
      return json_mismatch(at, "an array", j);
    x.clear();
    x.resize(j.size());
    for (std::size_t i = 0; i < j.size(); ++i)
      if (auto p = json_read(j[i], x[i], at + "[" + std::to_string(i) + "]"); !p.empty())
        return p;
    return {};
  } else {
    static_assert(is_text_map<T>::value, "a field type the wire does not know");
    if (!j.is_object())
      return json_mismatch(at, "an object", j);
    x.clear();
    for (const auto& [k, v] : j.items())
      if (auto p = json_read(v, x[k], at + "." + k); !p.empty())
        return p;
    return {};
  }
}

template <class T>
std::string json_read_field(const nlohmann::json& j, const field_t& f, T& x,
                            const std::string& at) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (f.form == field_form::json_text) {
      x = j.is_null() ? std::string{} : j.is_string() ? j.get<std::string>() : j.dump();
      return {};
    }
    if (f.form == field_form::bytes) {
      if (!j.is_string() || !base64_decode(j.get_ref<const std::string&>(), x))
        return json_mismatch(at, "base64 text", j);
      return {};
    }
  }
  return json_read(j, x, at);
}

} // namespace detail

/// Reads message `x` from JSON object `j`: "" when it fits, else what does not. Fields `j`
/// lacks keep their values; unknown keys are ignored.
template <class T> std::string from_json(const nlohmann::json& j, T& x) {
  static_assert(is_message<T>::value, "wire::from_json takes a message type with an inspect");
  if (!j.is_object())
    return detail::json_mismatch("", "an object", j);
  return read_fields(
      x,
      [&](const char* name) {
        auto it = j.find(name);
        return it == j.end() ? nullptr : &*it;
      },
      [](const nlohmann::json& value, const field_t& f, auto& v) {
        return detail::json_read_field(value, f, v, f.name);
      });
}

} // namespace llmos::wire
