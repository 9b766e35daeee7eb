#include "model/formats/sentencepiece_proto.hpp"

#include <cstring>
#include <utility>

#include "llmos/messages/error.hpp"
#include "model/formats/file_bytes.hpp"

namespace llmos::model {

namespace {

constexpr std::string_view spm_space = "\xE2\x96\x81"; // U+2581, SentencePiece's space

enum wire_type : uint32_t { varint_wire = 0, fixed64_wire = 1, bytes_wire = 2, fixed32_wire = 5 };

/// A bounds-checked cursor over protobuf wire data: each read fails instead of running past the
/// end, and the caller turns the failure into an error naming the field.
class wire_reader {
public:
  explicit wire_reader(std::string_view bytes) : bytes_(bytes) {}

  bool done() const { return pos_ >= bytes_.size(); }

  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done())
        return false;
      const auto b = static_cast<unsigned char>(bytes_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80))
        return true;
    }
    return false; // more than 10 bytes: not a varint
  }

  bool fixed(std::size_t n, void* out) {
    if (bytes_.size() - pos_ < n)
      return false;
    std::memcpy(out, bytes_.data() + pos_, n); // little-endian, as the host (see container)
    pos_ += n;
    return true;
  }

  bool delimited(std::string_view& out) {
    uint64_t n = 0;
    if (!varint(n) || n > bytes_.size() - pos_)
      return false;
    out = bytes_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return true;
  }

  /// Skips a field of wire type `wt`; groups (3, 4) and undefined types fail.
  bool skip(uint32_t wt) {
    uint64_t v = 0;
    std::string_view s;
    unsigned char buf[8];
    switch (wt) {
    case varint_wire:
      return varint(v);
    case fixed64_wire:
      return fixed(8, buf);
    case bytes_wire:
      return delimited(s);
    case fixed32_wire:
      return fixed(4, buf);
    default:
      return false;
    }
  }

private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

caf::error refuse(const std::string& where, const std::string& field, const std::string& what) {
  return make_llmos_error(error_code::bad_config, where + ": field '" + field + "': " + what);
}

/// Walks the fields of one message, calling on_field(number, wire type, reader) for each; the
/// callback reads the value or returns false to have it skipped.
template <class F>
caf::error for_each_field(std::string_view bytes, const std::string& where,
                          const std::string& message, F on_field) {
  wire_reader r(bytes);
  while (!r.done()) {
    uint64_t key = 0;
    if (!r.varint(key))
      return refuse(where, message, "truncated field key");
    const auto field = static_cast<uint32_t>(key >> 3), wt = static_cast<uint32_t>(key & 7);
    auto handled = on_field(field, wt, r);
    if (!handled)
      return handled.error();
    if (!*handled && !r.skip(wt))
      return refuse(where, message,
                    "field " + std::to_string(field) + " (wire type " + std::to_string(wt) +
                        ") is truncated or of an unsupported wire type");
  }
  return {};
}

caf::error parse_piece(std::string_view bytes, const std::string& where, std::size_t index,
                       dataset::scored_vocab& v) {
  const auto name = "pieces[" + std::to_string(index) + "]";
  std::string piece;
  float score = 0.0f;
  uint64_t type = 1; // NORMAL is the proto default
  auto err = for_each_field(
      bytes, where, name, [&](uint32_t field, uint32_t wt, wire_reader& r) -> caf::expected<bool> {
        std::string_view s;
        if (field == 1 && wt == bytes_wire) {
          if (!r.delimited(s))
            return refuse(where, name + ".piece", "truncated");
          piece = sentencepiece_to_text(s);
          return true;
        }
        if (field == 2 && wt == fixed32_wire) {
          if (!r.fixed(4, &score))
            return refuse(where, name + ".score", "truncated");
          return true;
        }
        if (field == 3 && wt == varint_wire) {
          if (!r.varint(type))
            return refuse(where, name + ".type", "truncated");
          return true;
        }
        if (field >= 1 && field <= 3)
          return refuse(where, name,
                        "field " + std::to_string(field) + " has wire type " + std::to_string(wt) +
                            ", not the one SentencePiece writes");
        return false;
      });
  if (err)
    return err;
  if (type < 1 || type > 6)
    return refuse(where, name + ".type",
                  std::to_string(type) + " is not a SentencePiece piece type (1-6)");
  v.pieces.push_back(std::move(piece));
  v.scores.push_back(score);
  v.types.push_back(static_cast<dataset::piece_type>(type));
  return {};
}

caf::error parse_trainer_spec(std::string_view bytes, const std::string& where, int64_t ids[4]) {
  static const char* names[] = {"unk_id", "bos_id", "eos_id", "pad_id"};
  return for_each_field(bytes, where, "trainer_spec",
                        [&](uint32_t field, uint32_t wt, wire_reader& r) -> caf::expected<bool> {
                          if (field < 40 || field > 43)
                            return false;
                          uint64_t x = 0;
                          if (wt != varint_wire || !r.varint(x))
                            return refuse(where, std::string{"trainer_spec."} + names[field - 40],
                                          "truncated or not a varint");
                          // An int32 field: a negative value arrives as a sign-extended 64-bit
                          // varint.
                          ids[field - 40] = static_cast<int32_t>(static_cast<uint32_t>(x));
                          return true;
                        });
}

caf::error parse_normalizer_spec(std::string_view bytes, const std::string& where,
                                 bool& dummy_prefix) {
  return for_each_field(bytes, where, "normalizer_spec",
                        [&](uint32_t field, uint32_t wt, wire_reader& r) -> caf::expected<bool> {
                          if (field != 3)
                            return false;
                          uint64_t x = 0;
                          if (wt != varint_wire || !r.varint(x))
                            return refuse(where, "normalizer_spec.add_dummy_prefix",
                                          "truncated or not a varint");
                          dummy_prefix = x != 0;
                          return true;
                        });
}

} // namespace

std::string sentencepiece_to_text(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size();) {
    if (piece.substr(i, spm_space.size()) == spm_space) {
      out += ' ';
      i += spm_space.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

std::string text_to_sentencepiece(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text)
    if (c == ' ')
      out += spm_space;
    else
      out += c;
  return out;
}

caf::expected<dataset::scored_vocab> parse_sentencepiece_model(std::string_view bytes,
                                                               const std::string& where) {
  dataset::scored_vocab v;
  int64_t ids[4] = {0, 1, 2, -1}; // trainer_spec's defaults: unk, bos, eos, pad
  bool dummy_prefix = true;
  auto err = for_each_field(
      bytes, where, "ModelProto",
      [&](uint32_t field, uint32_t wt, wire_reader& r) -> caf::expected<bool> {
        if (field < 1 || field > 3)
          return false;
        static const char* names[] = {"pieces", "trainer_spec", "normalizer_spec"};
        std::string_view s;
        if (wt != bytes_wire || !r.delimited(s))
          return refuse(where, names[field - 1], "truncated or not a length-delimited message");
        caf::error e;
        if (field == 1)
          e = parse_piece(s, where, v.pieces.size(), v);
        else if (field == 2)
          e = parse_trainer_spec(s, where, ids);
        else
          e = parse_normalizer_spec(s, where, dummy_prefix);
        if (e)
          return e;
        return true;
      });
  if (err)
    return err;
  if (v.pieces.empty())
    return refuse(where, "pieces", "the model holds no pieces");
  static const char* names[] = {"unk_id", "bos_id", "eos_id", "pad_id"};
  for (int i = 0; i < 4; ++i)
    if (ids[i] < (i == 0 ? 0 : -1) || ids[i] >= v.size())
      return refuse(where, std::string{"trainer_spec."} + names[i],
                    std::to_string(ids[i]) + " is outside the " + std::to_string(v.size()) +
                        " pieces");
  v.unk = static_cast<int32_t>(ids[0]);
  v.bos = static_cast<int32_t>(ids[1]);
  v.eos = static_cast<int32_t>(ids[2]);
  v.pad = static_cast<int32_t>(ids[3]);
  v.add_space_prefix = dummy_prefix;
  return v;
}

caf::expected<dataset::scored_vocab> read_sentencepiece_model(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes)
    return std::move(bytes.error());
  return parse_sentencepiece_model(*bytes, path);
}

} // namespace llmos::model
