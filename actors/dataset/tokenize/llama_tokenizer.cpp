#include "dataset/tokenize/llama_tokenizer.hpp"

#include <algorithm>
#include <bit>
#include <queue>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/text.hpp"

namespace llmos::dataset {

int byte_of_piece(std::string_view piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>')
    return -1;
  const int hi = text::hex_digit(piece[3]), lo = text::hex_digit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

namespace {

// llama2.c starts its best score at -1e10 and merges only above it; a piece scored at or
// below that (or NaN) never merges there, so it never merges here either.
constexpr float min_merge_score = -1e10f;

// Sanity cap on the vocabulary size a payload may declare (before reading the pieces).
constexpr uint32_t max_payload_pieces = uint32_t{1} << 24;

caf::error refuse(const std::string& what) {
  return make_llmos_error(error_code::bad_config, "llama-bpe tokenizer: " + what);
}

/// Pieces that stand for their own text: the only ones encoding looks up and merges into.
bool is_text(piece_type t) {
  return t == piece_type::normal || t == piece_type::user_defined;
}

bool valid_type(int32_t t) {
  return t >= static_cast<int32_t>(piece_type::normal) &&
         t <= static_cast<int32_t>(piece_type::byte);
}

/// A run of tokens during encoding: a doubly linked list over the initial symbols; a merge
/// keeps the left symbol (so index order stays text order) and unlinks the right one.
struct symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool text; ///< a text piece, so it may merge; byte-fallback and unk symbols never do
};

/// A candidate merge of `left` with its right neighbour `right`, valid while both still hold
/// the ids they had when it was queued (a merge changes the surviving symbol's id, because
/// its text grows and text pieces are unique by text).
struct candidate {
  float score;
  int32_t left;
  int32_t right;
  int32_t left_id;
  int32_t right_id;
  int32_t merged;
};

/// Highest score first, then the leftmost pair, as llama2.c's scan picks them.
struct lower_priority {
  bool operator()(const candidate& a, const candidate& b) const {
    if (a.score != b.score)
      return a.score < b.score;
    return a.left > b.left;
  }
};

void put_u32(std::string& out, uint32_t v) {
  for (int b = 0; b < 4; ++b)
    out.push_back(static_cast<char>((v >> (8 * b)) & 0xFF));
}

/// Reads little-endian fields off the front of a payload, refusing to run past its end.
class payload_reader {
public:
  explicit payload_reader(std::string_view in) : in_(in) {}

  caf::expected<uint32_t> u32(const std::string& field) {
    if (in_.size() < 4)
      return refuse("payload truncated in " + field);
    uint32_t v = 0;
    for (int b = 0; b < 4; ++b)
      v |= static_cast<uint32_t>(static_cast<unsigned char>(in_[b])) << (8 * b);
    in_.remove_prefix(4);
    return v;
  }

  caf::expected<std::string_view> bytes(std::size_t n, const std::string& field) {
    if (in_.size() < n)
      return refuse("payload truncated in " + field + " (" + std::to_string(n) +
                    " bytes announced, " + std::to_string(in_.size()) + " left)");
    auto out = in_.substr(0, n);
    in_.remove_prefix(n);
    return out;
  }

  std::size_t left() const { return in_.size(); }

private:
  std::string_view in_;
};

} // namespace

caf::expected<llama_tokenizer> llama_tokenizer::create(scored_vocab vocab) {
  const auto n = vocab.pieces.size();
  if (n == 0)
    return refuse("the vocabulary is empty");
  if (n > static_cast<std::size_t>(INT32_MAX))
    return refuse("the vocabulary has more than 2^31 - 1 pieces");
  if (vocab.scores.size() != n || vocab.types.size() != n)
    return refuse(std::to_string(n) + " pieces but " + std::to_string(vocab.scores.size()) +
                  " scores and " + std::to_string(vocab.types.size()) + " types");
  const std::pair<const char*, int32_t> specials[] = {
      {"unk", vocab.unk}, {"bos", vocab.bos}, {"eos", vocab.eos}, {"pad", vocab.pad}};
  for (auto& [name, id] : specials)
    if (id < -1 || id >= vocab.size())
      return refuse(std::string{name} + " id " + std::to_string(id) +
                    " is outside the vocabulary [0, " + std::to_string(n) + ") (or -1 for none)");
  llama_tokenizer tok;
  std::fill(std::begin(tok.byte_ids_), std::end(tok.byte_ids_), -1);
  for (std::size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    const auto type = vocab.types[i];
    if (!valid_type(static_cast<int32_t>(type)))
      return refuse("piece " + std::to_string(i) + " has type " +
                    std::to_string(static_cast<int32_t>(type)) + ", not one of 1..6");
    if (type == piece_type::byte) {
      const int b = byte_of_piece(vocab.pieces[i]);
      if (b < 0)
        return refuse("piece " + std::to_string(i) + " is a byte piece but reads '" +
                      vocab.pieces[i] + "', not <0xAB>");
      if (tok.byte_ids_[b] < 0)
        tok.byte_ids_[b] = id;
    } else if (is_text(type) && !vocab.pieces[i].empty()) {
      // The first of duplicate pieces wins, so encoding is deterministic whatever the source.
      tok.ids_.emplace(vocab.pieces[i], id);
    }
  }
  if (vocab.unk < 0)
    for (int b = 0; b < 256; ++b)
      if (tok.byte_ids_[b] < 0)
        return refuse("no unk piece and no byte piece for byte " + std::to_string(b) +
                      ": some text could not be encoded");
  // What a chat template may spell (llama.cpp's special-token cache): control, user-defined and
  // unknown pieces, longest first so that a piece is never cut by a shorter one it starts with.
  for (std::size_t i = 0; i < n; ++i) {
    const auto type = vocab.types[i];
    if ((type == piece_type::control || type == piece_type::user_defined ||
         type == piece_type::unknown) &&
        !vocab.pieces[i].empty())
      tok.special_ids_.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(tok.special_ids_.begin(), tok.special_ids_.end(), [&](int32_t a, int32_t b) {
    return vocab.pieces[static_cast<std::size_t>(a)].size() >
           vocab.pieces[static_cast<std::size_t>(b)].size();
  });
  tok.vocab_ = std::move(vocab);
  return tok;
}

caf::expected<llama_tokenizer> llama_tokenizer::from_payload(std::string_view payload) {
  payload_reader in{payload};
  auto n = in.u32("the piece count");
  if (!n)
    return std::move(n.error());
  // Each piece takes at least 12 bytes, which bounds the count before anything is allocated.
  if (*n > max_payload_pieces || *n > in.left() / 12)
    return refuse("payload announces " + std::to_string(*n) + " pieces, more than its " +
                  std::to_string(in.left()) + " bytes can hold (truncated or corrupt)");
  scored_vocab v;
  int32_t* specials[] = {&v.unk, &v.bos, &v.eos, &v.pad};
  const char* special_names[] = {"unk", "bos", "eos", "pad"};
  for (int s = 0; s < 4; ++s) {
    auto id = in.u32(std::string{"the "} + special_names[s] + " id");
    if (!id)
      return std::move(id.error());
    *specials[s] = static_cast<int32_t>(*id);
  }
  auto flags = in.bytes(1, "the flags");
  if (!flags)
    return std::move(flags.error());
  if ((*flags)[0] != 0 && (*flags)[0] != 1)
    return refuse("add_space_prefix flag is " +
                  std::to_string(static_cast<unsigned char>((*flags)[0])) + ", not 0 or 1");
  v.add_space_prefix = (*flags)[0] == 1;
  v.pieces.reserve(*n);
  v.scores.reserve(*n);
  v.types.reserve(*n);
  for (uint32_t i = 0; i < *n; ++i) {
    const auto where = "piece " + std::to_string(i);
    auto score = in.u32(where + "'s score");
    if (!score)
      return std::move(score.error());
    auto type = in.u32(where + "'s type");
    if (!type)
      return std::move(type.error());
    if (!valid_type(static_cast<int32_t>(*type)))
      return refuse(where + " has type " + std::to_string(*type) + ", not one of 1..6");
    auto len = in.u32(where + "'s length");
    if (!len)
      return std::move(len.error());
    auto text = in.bytes(*len, where + "'s text");
    if (!text)
      return std::move(text.error());
    v.pieces.emplace_back(*text);
    v.scores.push_back(std::bit_cast<float>(*score));
    v.types.push_back(static_cast<piece_type>(*type));
  }
  if (in.left() != 0)
    return refuse(std::to_string(in.left()) + " unexpected bytes after the last piece");
  return create(std::move(v));
}

namespace {

/// The symbols `text` starts as, linked in order: one per character group, as llama2.c cuts
/// them (a byte and up to 3 following continuation bytes, so malformed UTF-8 still forms groups,
/// which then fall back to bytes), after the dummy prefix when the vocabulary adds one.
std::vector<symbol> initial_symbols(std::string_view text, const scored_vocab& vocab,
                                    const std::unordered_map<std::string, int32_t>& ids,
                                    const int32_t (&byte_ids)[256]) {
  std::vector<symbol> syms;
  syms.reserve(text.size() + 1);
  auto push = [&](int32_t id, bool is_text_piece) {
    const auto i = static_cast<int32_t>(syms.size());
    syms.push_back({id, i - 1, i + 1, is_text_piece});
  };
  auto push_group = [&](std::string_view group) {
    if (auto it = ids.find(std::string{group}); it != ids.end())
      return push(it->second, true);
    for (unsigned char b : group)
      push(byte_ids[b] >= 0 ? byte_ids[b] : vocab.unk, false);
  };
  // The dummy prefix is a group of its own: llama2.c pushes it as a token before the text.
  if (vocab.add_space_prefix)
    push_group(" ");
  auto is_continuation = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; };
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t len = 1;
    while (len < 4 && pos + len < text.size() && is_continuation(text[pos + len]))
      ++len;
    push_group(text.substr(pos, len));
    pos += len;
  }
  syms.back().next = -1;
  return syms;
}

} // namespace

std::vector<int32_t> llama_tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  if (text.empty())
    return out;
  auto syms = initial_symbols(text, vocab_, ids_, byte_ids_);
  std::priority_queue<candidate, std::vector<candidate>, lower_priority> queue;
  std::string joined;
  auto consider = [&](int32_t left) {
    if (left < 0)
      return;
    const int32_t right = syms[left].next;
    if (right < 0 || !syms[left].text || !syms[right].text)
      return;
    joined = vocab_.pieces[syms[left].id];
    joined += vocab_.pieces[syms[right].id];
    auto it = ids_.find(joined);
    if (it == ids_.end())
      return;
    const float score = vocab_.scores[it->second];
    if (score > min_merge_score)
      queue.push({score, left, right, syms[left].id, syms[right].id, it->second});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i)
    consider(i);
  while (!queue.empty()) {
    const auto c = queue.top();
    queue.pop();
    auto& l = syms[c.left];
    if (l.next != c.right || l.id != c.left_id || syms[c.right].id != c.right_id)
      continue; // stale: one side merged with something else since it was queued
    l.id = c.merged;
    l.next = syms[c.right].next;
    syms[c.right].id = -1; // dead: no queued candidate can name it again
    if (l.next >= 0)
      syms[l.next].prev = c.left;
    consider(l.prev);
    consider(c.left);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next)
    out.push_back(syms[i].id);
  return out;
}

std::vector<int32_t> llama_tokenizer::encode_with_specials(std::string_view text) const {
  std::vector<int32_t> out;
  std::size_t run = 0; // where the text not yet encoded begins
  auto flush = [&](std::size_t end) {
    auto ids = encode(text.substr(run, end - run));
    out.insert(out.end(), ids.begin(), ids.end());
  };
  for (std::size_t pos = 0; pos < text.size();) {
    int32_t found = -1;
    for (auto id : special_ids_) { // longest first: "<|im_start|>" before "<|"
      const auto& piece = vocab_.pieces[static_cast<std::size_t>(id)];
      if (text.compare(pos, piece.size(), piece) == 0) {
        found = id;
        break;
      }
    }
    if (found < 0) {
      ++pos;
      continue;
    }
    flush(pos);
    out.push_back(found);
    pos += vocab_.pieces[static_cast<std::size_t>(found)].size();
    run = pos;
  }
  flush(text.size());
  return out;
}

caf::expected<std::string> llama_tokenizer::decode(std::span<const int32_t> ids) const {
  if (auto err = check_ids("llama-bpe tokenizer", ids, vocab_size()))
    return err;
  std::string out;
  for (const int32_t id : ids) {
    const auto& piece = vocab_.pieces[static_cast<std::size_t>(id)];
    switch (vocab_.types[static_cast<std::size_t>(id)]) {
    case piece_type::normal:
    case piece_type::user_defined:
      out += piece;
      break;
    case piece_type::byte:
      out.push_back(static_cast<char>(byte_of_piece(piece)));
      break;
    default:
      // Control, unknown and unused pieces are not text: BOS/EOS mark boundaries, and unk
      // (only produced when a vocabulary lacks byte pieces) has no text to give back.
      break;
    }
  }
  // Encoding put one space before the text; give back exactly the text. Dropping the first
  // byte of the output (rather than of the first piece) also covers a prefix that fell back
  // to the byte piece <0x20>, and skips the BOS/EOS pieces that decode to nothing.
  if (vocab_.add_space_prefix && !out.empty() && out.front() == ' ')
    out.erase(0, 1);
  return out;
}

int32_t llama_tokenizer::vocab_size() const {
  return vocab_.size();
}

std::string llama_tokenizer::name() const {
  return "llama-bpe";
}

special_ids llama_tokenizer::specials() const {
  return {vocab_.unk, vocab_.bos, vocab_.eos, vocab_.pad};
}

std::string llama_tokenizer::serialize() const {
  std::string out = tokenizer_header(name());
  put_u32(out, static_cast<uint32_t>(vocab_.pieces.size()));
  for (int32_t id : {vocab_.unk, vocab_.bos, vocab_.eos, vocab_.pad})
    put_u32(out, static_cast<uint32_t>(id));
  out.push_back(vocab_.add_space_prefix ? 1 : 0);
  for (std::size_t i = 0; i < vocab_.pieces.size(); ++i) {
    // The score's bit pattern, so -0.0 and every other float comes back exactly.
    put_u32(out, std::bit_cast<uint32_t>(vocab_.scores[i]));
    put_u32(out, static_cast<uint32_t>(vocab_.types[i]));
    put_u32(out, static_cast<uint32_t>(vocab_.pieces[i].size()));
    out += vocab_.pieces[i];
  }
  return out;
}

} // namespace llmos::dataset
