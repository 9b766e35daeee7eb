#include "dataset/store/shard_reader.hpp"

#include <algorithm>
#include <limits>

#include <msgpack.hpp>

#include "dataset/store/atomic_file.hpp"
#include "dataset/store/content_hash.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

// Strings and bins stay in the file buffer instead of being copied into msgpack's zone.
bool reference_in_place(msgpack::type::object_type type, std::size_t, void*) {
  return type == msgpack::type::STR || type == msgpack::type::BIN;
}

caf::error bad_shard(const std::string& name, const std::string& what) {
  return make_llmos_error(error_code::io_failed, "shard '" + name + "': " + what);
}

std::string_view view(const msgpack::object& o) {
  return o.type == msgpack::type::STR ? std::string_view{o.via.str.ptr, o.via.str.size}
                                      : std::string_view{o.via.bin.ptr, o.via.bin.size};
}

caf::expected<shard_row_view> decode_row(const msgpack::object& o, const std::string& name,
                                         std::size_t index) {
  const auto where = "record " + std::to_string(index);
  if (o.type != msgpack::type::MAP)
    return bad_shard(name, where + " is not a map");
  shard_row_view row;
  unsigned seen = 0;
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR)
      return bad_shard(name, where + " has a non-string key");
    const auto key = view(kv.key);
    const auto& v = kv.val;
    auto wrong = [&](const char* expected) {
      return bad_shard(name, where + " field '" + std::string{key} + "' is not " + expected);
    };
    auto as_u32 = [&](uint32_t& out) -> bool {
      if (v.type != msgpack::type::POSITIVE_INTEGER ||
          v.via.u64 > std::numeric_limits<uint32_t>::max())
        return false;
      out = static_cast<uint32_t>(v.via.u64);
      return true;
    };
    if (key == "id" || key == "text" || key == "label") {
      if (v.type != msgpack::type::STR)
        return wrong("a string");
      (key == "id" ? row.id : key == "text" ? row.text : row.label) = view(v);
      seen |= key == "id" ? 1u : key == "text" ? 2u : 4u;
    } else if (key == "image" || key == "tokens") {
      if (v.type != msgpack::type::BIN)
        return wrong("a bin");
      (key == "image" ? row.image : row.tokens_le) = view(v);
      seen |= key == "image" ? 8u : 16u;
    } else if (key == "rows" || key == "cols") {
      if (!as_u32(key == "rows" ? row.rows : row.cols))
        return wrong("a uint32");
      seen |= key == "rows" ? 32u : 64u;
    } else if (key == "label_source") { // optional
      if (v.type != msgpack::type::STR)
        return wrong("a string");
      row.label_source = view(v);
    } else if (key == "augmented") {
      if (v.type != msgpack::type::BOOLEAN)
        return wrong("a boolean");
      row.augmented = v.via.boolean;
      seen |= 128u;
    }
    // Unknown keys are skipped: a later format may add fields that older readers ignore.
  }
  if (seen != 255u)
    return bad_shard(name, where + " lacks one of id, text, label, augmented, rows, cols, image, "
                                   "tokens");
  if (row.tokens_le.size() % 4 != 0)
    return bad_shard(name, where + " field 'tokens' is not a whole number of int32 values");
  if (!row.image.empty() &&
      row.image.size() != static_cast<std::size_t>(row.rows) * static_cast<std::size_t>(row.cols))
    return bad_shard(name, where + " field 'image' holds " + std::to_string(row.image.size()) +
                               " bytes for " + std::to_string(row.rows) + "x" +
                               std::to_string(row.cols) + " pixels");
  return row;
}

} // namespace

caf::expected<shard_reader> shard_reader::open(const std::string& path,
                                               std::string_view expected_xxh3_64) {
  auto bytes = read_whole_file(path);
  if (!bytes)
    return std::move(bytes.error());
  if (!expected_xxh3_64.empty()) {
    if (auto actual = xxh3_64_hex(*bytes); actual != expected_xxh3_64)
      return bad_shard(path, "checksum mismatch (xxh3-64 " + actual + ", manifest says " +
                                 std::string{expected_xxh3_64} +
                                 "): the file is torn or corrupted; rebuild this version");
  }
  return parse(std::move(*bytes), path);
}

caf::expected<shard_reader> shard_reader::parse(std::string bytes, std::string name) {
  shard_reader reader;
  reader.name_ = std::move(name);
  reader.bytes_ = std::make_shared<const std::string>(std::move(bytes));
  const auto& buf = *reader.bytes_;
  msgpack::object_handle oh;
  std::size_t offset = 0;
  // A shard is an array of flat maps: anything nested deeper is not a shard, and refusing it
  // early keeps a crafted file from driving the parser's depth up. Every element takes at
  // least one byte, so no array, string or bin can be longer than the file: a forged length
  // must not make the parser reserve gigabytes.
  const std::size_t most = std::min<std::size_t>(buf.size(), 0xffffffff);
  const msgpack::unpack_limit limits{most, 64, most, most, 0, 3};
  try {
    msgpack::unpack(oh, buf.data(), buf.size(), offset, reference_in_place, nullptr, limits);
  } catch (const std::exception& e) {
    return bad_shard(reader.name_, std::string{"not valid msgpack ("} + e.what() + ")");
  }
  if (offset != buf.size())
    return bad_shard(reader.name_, std::to_string(buf.size() - offset) +
                                       " trailing bytes after the record array");
  const auto& top = oh.get();
  if (top.type != msgpack::type::ARRAY)
    return bad_shard(reader.name_, "top level is not an array of records");
  reader.rows_.reserve(top.via.array.size);
  for (uint32_t i = 0; i < top.via.array.size; ++i) {
    auto row = decode_row(top.via.array.ptr[i], reader.name_, i);
    if (!row)
      return std::move(row.error());
    reader.rows_.push_back(*row);
  }
  return reader;
}

std::vector<record> shard_reader::records() const {
  std::vector<record> out;
  out.reserve(rows_.size());
  for (const auto& row : rows_)
    out.push_back(row.to_record());
  return out;
}

} // namespace llmos::dataset
