#include "dataset/store/shard_format.hpp"

#include <bit>
#include <cstring>

#include <msgpack.hpp>

namespace llmos::dataset {
namespace {

void pack_str(msgpack::packer<msgpack::sbuffer>& pk, std::string_view key, std::string_view v) {
  pk.pack_str(static_cast<uint32_t>(key.size()));
  pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
  pk.pack_str(static_cast<uint32_t>(v.size()));
  pk.pack_str_body(v.data(), static_cast<uint32_t>(v.size()));
}

void pack_bin(msgpack::packer<msgpack::sbuffer>& pk, std::string_view key, std::string_view v) {
  pk.pack_str(static_cast<uint32_t>(key.size()));
  pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
  pk.pack_bin(static_cast<uint32_t>(v.size()));
  pk.pack_bin_body(v.data(), static_cast<uint32_t>(v.size()));
}

void pack_key(msgpack::packer<msgpack::sbuffer>& pk, std::string_view key) {
  pk.pack_str(static_cast<uint32_t>(key.size()));
  pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
}

} // namespace

std::vector<int32_t> shard_row_view::tokens() const {
  std::vector<int32_t> out(tokens_le.size() / 4);
  if constexpr (std::endian::native == std::endian::little) {
    if (!out.empty()) // memcpy from an empty view's null pointer is undefined even for 0 bytes
      std::memcpy(out.data(), tokens_le.data(), out.size() * 4);
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) {
      uint32_t v = 0;
      for (std::size_t b = 0; b < 4; ++b)
        v |= static_cast<uint32_t>(static_cast<unsigned char>(tokens_le[4 * i + b])) << (8 * b);
      out[i] = static_cast<int32_t>(v);
    }
  }
  return out;
}

record shard_row_view::to_record() const {
  record r;
  r.id = id;
  r.text = text;
  r.label = label;
  r.image = image;
  r.rows = rows;
  r.cols = cols;
  r.augmented = augmented;
  if (!label_source.empty())
    r.meta["label_source"] = label_source;
  return r;
}

shard_row_view view_of(const record& r, std::string_view tokens_le) {
  auto source = r.meta.find("label_source");
  return {r.id,
          r.text,
          r.label,
          r.image,
          tokens_le,
          r.rows,
          r.cols,
          r.augmented,
          source == r.meta.end() ? std::string_view{} : std::string_view{source->second}};
}

std::string tokens_to_le(std::span<const int32_t> tokens) {
  std::string out(tokens.size() * 4, '\0');
  if constexpr (std::endian::native == std::endian::little) {
    if (!out.empty())
      std::memcpy(out.data(), tokens.data(), out.size());
  } else {
    for (std::size_t i = 0; i < tokens.size(); ++i)
      for (std::size_t b = 0; b < 4; ++b)
        out[4 * i + b] = static_cast<char>((static_cast<uint32_t>(tokens[i]) >> (8 * b)) & 0xFF);
  }
  return out;
}

std::string encode_shard(std::span<const shard_row_view> rows) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  pk.pack_array(static_cast<uint32_t>(rows.size()));
  for (const auto& r : rows) {
    // Without a label source the map is what it was before sources were kept.
    pk.pack_map(r.label_source.empty() ? 8 : 9);
    pack_str(pk, "id", r.id);
    pack_str(pk, "text", r.text);
    pack_str(pk, "label", r.label);
    pack_key(pk, "augmented");
    if (r.augmented)
      pk.pack_true();
    else
      pk.pack_false();
    pack_key(pk, "rows");
    pk.pack_uint32(r.rows);
    pack_key(pk, "cols");
    pk.pack_uint32(r.cols);
    pack_bin(pk, "image", r.image);
    pack_bin(pk, "tokens", r.tokens_le);
    if (!r.label_source.empty())
      pack_str(pk, "label_source", r.label_source);
  }
  return {buf.data(), buf.size()};
}

} // namespace llmos::dataset
