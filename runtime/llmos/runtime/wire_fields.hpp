// Walks the named fields of a message through its CAF `inspect` (see llmos/messages/field.hpp):
// the common part of the msgpack and JSON inspectors (wire_msgpack.hpp, wire_json.hpp), and the
// shapes of the values they know.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmos/messages/field.hpp"

namespace llmos::wire {

/// An inspector for `inspect` overloads: calls fn(field, value) for every value a field
/// annotation names, in declaration order; other annotations and unnamed values are skipped.
template <class Fn> class field_walker {
public:
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = true;

  explicit field_walker(Fn& fn) : fn_(fn) {}

  template <class... Ts> void operator()(Ts&&... xs) { walk(std::forward<Ts>(xs)...); }

private:
  // At compile time, so that `fn` is only instantiated for named values (an actor handle has an
  // inspect of its own that the wire must never descend into).
  void walk() {}

  template <class T, class... Ts> void walk(T&& x, Ts&&... xs) {
    if constexpr (std::is_same_v<std::decay_t<T>, field_t>)
      named(x, std::forward<Ts>(xs)...);
    else
      walk(std::forward<Ts>(xs)...); // other annotations and unnamed values
  }

  template <class V, class... Ts> void named(const field_t& f, V&& value, Ts&&... xs) {
    static_assert(!std::is_base_of_v<caf::meta::annotation, std::decay_t<V>>,
                  "a field annotation names the value right after it");
    fn_(f, value);
    walk(std::forward<Ts>(xs)...);
  }

  Fn& fn_;
};

/// Calls fn(const field_t&, V& value) for each named field of message `x`.
template <class T, class Fn> void for_each_field(T& x, Fn&& fn) {
  field_walker<std::remove_reference_t<Fn>> walker{fn};
  inspect(walker, x);
}

/// Reads the fields of message `x` from its outside form, stopping at the first that does not
/// fit: `find(name)` points at a field's encoded value (nullptr when absent: the field keeps its
/// value) and `read(value, field, member)` says what is wrong with it ("" when it fits).
template <class T, class Find, class Read> std::string read_fields(T& x, Find&& find, Read&& read) {
  std::string problem;
  for_each_field(x, [&](const field_t& f, auto& v) {
    if (!problem.empty())
      return;
    if (const auto* value = find(f.name))
      problem = read(*value, f, v);
  });
  return problem;
}

/// What is wrong inside a message, as seen from the field `at` that holds it ("at.inner: ...").
inline std::string inside(const std::string& at, std::string problem) {
  return problem.empty() || at.empty() ? problem : at + "." + problem;
}

namespace detail {
struct ignore_fields {
  template <class V> void operator()(const field_t&, V&) const {}
};
} // namespace detail

/// A type with an `inspect` overload: written as an object of its named fields.
template <class T, class = void> struct is_message : std::false_type {};
template <class T>
struct is_message<T,
                  std::void_t<decltype(inspect(std::declval<field_walker<detail::ignore_fields>&>(),
                                               std::declval<T&>()))>> : std::true_type {};

template <class T> struct is_list : std::false_type {};
template <class T, class A> struct is_list<std::vector<T, A>> : std::true_type {};

/// Maps with string keys: JSON objects, msgpack maps.
template <class T> struct is_text_map : std::false_type {};
template <class V, class C, class A>
struct is_text_map<std::map<std::string, V, C, A>> : std::true_type {};

/// Whether an optional field is left out: empty strings, lists and maps.
template <class T> bool is_empty(const T& x) {
  if constexpr (std::is_same_v<T, std::string> || is_list<T>::value || is_text_map<T>::value)
    return x.empty();
  else
    return false;
}

/// The JSON value `text` holds (a json_text field): "" is null, and text that is not JSON is
/// itself, as a string.
nlohmann::json json_or_text(const std::string& text);

/// Standard base64 (RFC 4648, padded): how bytes travel in JSON.
std::string base64_encode(std::string_view bytes);
/// False when `text` is not base64 (whitespace is not accepted).
bool base64_decode(std::string_view text, std::string& out);

} // namespace llmos::wire
