// The names of an enum's values, both ways, from one table per enum: to_string and the parsers
// of configs and requests read the same list, so a value cannot be spelt one way when printed
// and another when read, and a refusal lists exactly the names that are accepted.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace llmos {

/// One entry of an enum's name table.
template <class E> struct enum_name {
  E value;
  std::string_view name;
};

/// The name of `value`; `unknown` for a value the table lacks (a cast from a wider integer).
template <class E, std::size_t N>
constexpr std::string_view name_of(const enum_name<E> (&table)[N], E value,
                                   std::string_view unknown = "unknown") {
  for (const auto& entry : table)
    if (entry.value == value)
      return entry.name;
  return unknown;
}

/// The value called `name`, if one is.
template <class E, std::size_t N>
constexpr std::optional<E> value_of(const enum_name<E> (&table)[N], std::string_view name) {
  for (const auto& entry : table)
    if (entry.name == name)
      return entry.value;
  return std::nullopt;
}

/// The names for a refusal: "a, b or c".
template <class E, std::size_t N> std::string names_of(const enum_name<E> (&table)[N]) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i)
    out.append(i == 0 ? "" : i + 1 == N ? " or " : ", ").append(table[i].name);
  return out;
}

} // namespace llmos
