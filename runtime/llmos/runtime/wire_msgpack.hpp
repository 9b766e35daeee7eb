// The msgpack (RPC) form of every message, generated from its `inspect` (wire_fields.hpp): a
// message is a map of its named fields; lists are arrays, maps with string keys are maps, enums
// their names, json_text fields the value they hold, bytes fields bin. Reading back checks every
// type and names the field that does not fit; absent fields keep their defaults.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "llmos/runtime/wire_fields.hpp"

namespace llmos {

/// Name of a msgpack type for messages ("string", "integer", ...).
std::string type_name(const msgpack::object& obj);

/// Looks up `key` in a msgpack map; nullptr when absent (or when `map` is no map).
const msgpack::object* map_get(const msgpack::object& map, std::string_view key);

} // namespace llmos

namespace llmos::wire {

/// Packs JSON as the msgpack value of the same shape (maps, arrays, scalars; binary as bin).
template <class Packer> void pack_json(Packer& pk, const nlohmann::json& value) {
  using value_t = nlohmann::json::value_t;
  switch (value.type()) {
  case value_t::null:
  case value_t::discarded:
    pk.pack_nil();
    return;
  case value_t::boolean:
    if (value.get<bool>())
      pk.pack_true();
    else
      pk.pack_false();
    return;
  case value_t::number_integer:
    pk.pack_int64(value.get<int64_t>());
    return;
  case value_t::number_unsigned:
    pk.pack_uint64(value.get<uint64_t>());
    return;
  case value_t::number_float:
    pk.pack_double(value.get<double>());
    return;
  case value_t::string: {
    const auto& str = value.get_ref<const std::string&>();
    pk.pack_str(static_cast<uint32_t>(str.size()));
    pk.pack_str_body(str.data(), static_cast<uint32_t>(str.size()));
    return;
  }
  case value_t::binary: {
    const auto& bin = value.get_binary();
    pk.pack_bin(static_cast<uint32_t>(bin.size()));
    pk.pack_bin_body(reinterpret_cast<const char*>(bin.data()), static_cast<uint32_t>(bin.size()));
    return;
  }
  case value_t::array:
    pk.pack_array(static_cast<uint32_t>(value.size()));
    for (const auto& element : value)
      pack_json(pk, element);
    return;
  case value_t::object:
    pk.pack_map(static_cast<uint32_t>(value.size()));
    for (const auto& [key, element] : value.items()) {
      pk.pack_str(static_cast<uint32_t>(key.size()));
      pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
      pack_json(pk, element);
    }
    return;
  }
  pk.pack_nil();
}

template <class Packer, class T> void pack(Packer& pk, const T& x);

namespace detail {

template <class Packer, class T> void pack_value(Packer& pk, const T& x) {
  if constexpr (is_message<T>::value) {
    wire::pack(pk, x);
  } else if constexpr (std::is_enum_v<T>) {
    pk.pack(std::string{to_string(x)});
  } else if constexpr (is_list<T>::value) {
    pk.pack_array(static_cast<uint32_t>(x.size()));
    for (const auto& item : x)
      pack_value(pk, item);
  } else if constexpr (is_text_map<T>::value) {
    pk.pack_map(static_cast<uint32_t>(x.size()));
    for (const auto& [k, v] : x) {
      pk.pack(k);
      pack_value(pk, v);
    }
  } else {
    pk.pack(x);
  }
}

template <class Packer, class T> void pack_field(Packer& pk, const field_t& f, const T& x) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (f.form == field_form::json_text)
      return pack_json(pk, json_or_text(x));
    if (f.form == field_form::bytes) {
      pk.pack_bin(static_cast<uint32_t>(x.size()));
      pk.pack_bin_body(x.data(), static_cast<uint32_t>(x.size()));
      return;
    }
  }
  pack_value(pk, x);
}

} // namespace detail

/// Packs message `x` as a map of its named fields, then `extra` more entries that `more(pk)`
/// writes (values a method derives from the message, such as a small tensor's numbers).
template <class Packer, class T, class More>
void pack_with(Packer& pk, const T& x, uint32_t extra, More&& more) {
  static_assert(is_message<T>::value, "wire::pack takes a message type with an inspect overload");
  auto& m = const_cast<T&>(x); // inspect takes T&; the walk only reads
  uint32_t n = extra;
  for_each_field(
      m, [&](const field_t& f, const auto& v) { n += f.omit_empty && is_empty(v) ? 0 : 1; });
  pk.pack_map(n);
  for_each_field(m, [&](const field_t& f, const auto& v) {
    if (f.omit_empty && is_empty(v))
      return;
    pk.pack(std::string_view{f.name});
    detail::pack_field(pk, f, v);
  });
  more(pk);
}

/// Packs message `x` as a map of its named fields.
template <class Packer, class T> void pack(Packer& pk, const T& x) {
  pack_with(pk, x, 0, [](Packer&) {});
}

/// A message, a list of them or a plain value packed into a string (an RPC reply).
template <class T> std::string to_msgpack(const T& x) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  detail::pack_value(pk, x);
  return std::string{buf.data(), buf.size()};
}

template <class T> std::string unpack(const msgpack::object& o, T& x);

namespace detail {

std::string mismatch(const std::string& where, const char* wanted, const msgpack::object& got);
nlohmann::json to_json(const msgpack::object& o);

template <class T> std::string read_number(const msgpack::object& o, T& x, const std::string& at) {
  using lim = std::numeric_limits<T>;
  if constexpr (std::is_floating_point_v<T>) {
    if (o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64)
      x = static_cast<T>(o.via.f64);
    else if (o.type == msgpack::type::POSITIVE_INTEGER)
      x = static_cast<T>(o.via.u64);
    else if (o.type == msgpack::type::NEGATIVE_INTEGER)
      x = static_cast<T>(o.via.i64);
    else
      return mismatch(at, "a number", o);
    return {};
  } else {
    if (o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 <= static_cast<uint64_t>(lim::max()))
      x = static_cast<T>(o.via.u64);
    else if (o.type == msgpack::type::NEGATIVE_INTEGER && lim::is_signed &&
             o.via.i64 >= static_cast<int64_t>(lim::min()))
      x = static_cast<T>(o.via.i64);
    else
      return mismatch(at, lim::is_signed ? "an integer in range" : "an unsigned integer in range",
                      o);
    return {};
  }
}

template <class T> std::string read_value(const msgpack::object& o, T& x, const std::string& at) {
  if constexpr (is_message<T>::value) {
    return inside(at, wire::unpack(o, x));
  } else if constexpr (std::is_same_v<T, std::string> || std::is_enum_v<T>) {
    if (o.type != msgpack::type::STR)
      return mismatch(at, "a string", o);
    std::string text{o.via.str.ptr, o.via.str.size};
    if constexpr (std::is_enum_v<T>) {
      if (!from_string(text, x))
        return at + ": '" + text + "' is not one of its names";
    } else {
      x = std::move(text);
    }
    return {};
  } else if constexpr (std::is_same_v<T, bool>) {
    if (o.type != msgpack::type::BOOLEAN)
      return mismatch(at, "a boolean", o);
    x = o.via.boolean;
    return {};
  } else if constexpr (std::is_arithmetic_v<T>) {
    return read_number(o, x, at);
  } else if constexpr (is_list<T>::value) {
    if (o.type != msgpack::type::ARRAY)
      return mismatch(at, "an array", o);
    x.clear();
    x.resize(o.via.array.size);
    for (uint32_t i = 0; i < o.via.array.size; ++i)
      if (auto p = read_value(o.via.array.ptr[i], x[i], at + "[" + std::to_string(i) + "]");
          !p.empty())
        return p;
    return {};
  } else {
    static_assert(is_text_map<T>::value, "a field type the wire does not know");
    if (o.type != msgpack::type::MAP)
      return mismatch(at, "a map", o);
    x.clear();
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      const auto& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR)
        return mismatch(at + " key", "a string", kv.key);
      std::string key{kv.key.via.str.ptr, kv.key.via.str.size};
      if (auto p = read_value(kv.val, x[key], at + "." + key); !p.empty())
        return p;
    }
    return {};
  }
}

template <class T>
std::string read_field(const msgpack::object& o, const field_t& f, T& x, const std::string& at) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (f.form == field_form::json_text) {
      x = o.type == msgpack::type::NIL   ? std::string{}
          : o.type == msgpack::type::STR ? std::string{o.via.str.ptr, o.via.str.size}
                                         : to_json(o).dump();
      return {};
    }
    if (f.form == field_form::bytes) {
      if (o.type == msgpack::type::BIN)
        x.assign(o.via.bin.ptr, o.via.bin.size);
      else if (o.type == msgpack::type::STR)
        x.assign(o.via.str.ptr, o.via.str.size);
      else
        return mismatch(at, "bytes (bin)", o);
      return {};
    }
  }
  return read_value(o, x, at);
}

} // namespace detail

/// Reads message `x` from map `o`: "" when it fits, else what does not ("priority: must be an
/// integer in range, got string"). Fields `o` lacks keep their values; unknown keys are ignored.
template <class T> std::string unpack(const msgpack::object& o, T& x) {
  static_assert(is_message<T>::value, "wire::unpack takes a message type with an inspect overload");
  if (o.type != msgpack::type::MAP)
    return detail::mismatch("", "a map", o);
  return read_fields(
      x, [&](const char* name) { return map_get(o, name); },
      [](const msgpack::object& value, const field_t& f, auto& v) {
        return detail::read_field(value, f, v, f.name);
      });
}

} // namespace llmos::wire
