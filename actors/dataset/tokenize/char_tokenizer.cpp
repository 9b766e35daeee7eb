#include "dataset/tokenize/char_tokenizer.hpp"

#include <algorithm>
#include <map>

// The UTF-8 stepping the cleaning rules use, so both treat malformed bytes the same way.
#include "dataset/clean/utf8.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

caf::expected<char_tokenizer> char_tokenizer::train(std::span<const std::string> texts,
                                                    const char_options& opts) {
  if (opts.max_vocab_size != 0 && opts.max_vocab_size <= num_specials)
    return make_llmos_error(error_code::bad_config,
                            "char tokenizer: max_vocab_size " +
                                std::to_string(opts.max_vocab_size) +
                                " leaves no room for characters after the 4 specials; use 0 "
                                "(unlimited) or a larger value");
  // An ordered map keeps the later sort's input independent of hash-table iteration order.
  std::map<char32_t, uint64_t> counts;
  for (const auto& text : texts) {
    std::size_t pos = 0;
    while (pos < text.size())
      if (auto cp = next_code_point(text, pos); cp != invalid_code_point)
        ++counts[cp];
  }
  std::vector<std::pair<char32_t, uint64_t>> ranked;
  for (const auto& [cp, n] : counts)
    if (n >= opts.min_count)
      ranked.emplace_back(cp, n);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (opts.max_vocab_size != 0 &&
      ranked.size() > static_cast<std::size_t>(opts.max_vocab_size - num_specials))
    ranked.resize(static_cast<std::size_t>(opts.max_vocab_size - num_specials));
  char_tokenizer tok;
  tok.chars_.reserve(ranked.size());
  for (const auto& entry : ranked)
    tok.chars_.push_back(entry.first);
  tok.index();
  return tok;
}

caf::expected<char_tokenizer> char_tokenizer::from_payload(std::string_view payload) {
  if (payload.size() % 4 != 0)
    return make_llmos_error(error_code::bad_config,
                            "char tokenizer: payload of " + std::to_string(payload.size()) +
                                " bytes is not a whole number of uint32 code points");
  char_tokenizer tok;
  tok.chars_.reserve(payload.size() / 4);
  for (std::size_t i = 0; i < payload.size(); i += 4) {
    char32_t cp = 0;
    for (std::size_t b = 0; b < 4; ++b)
      cp |= static_cast<char32_t>(static_cast<unsigned char>(payload[i + b])) << (8 * b);
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return make_llmos_error(error_code::bad_config, "char tokenizer: entry " +
                                                          std::to_string(i / 4) +
                                                          " is not a Unicode scalar value");
    tok.chars_.push_back(cp);
  }
  tok.index();
  if (tok.ids_.size() != tok.chars_.size())
    return make_llmos_error(error_code::bad_config,
                            "char tokenizer: payload lists a character twice");
  return tok;
}

void char_tokenizer::index() {
  ids_.clear();
  for (std::size_t i = 0; i < chars_.size(); ++i)
    ids_.emplace(chars_[i], num_specials + static_cast<int32_t>(i));
}

std::vector<int32_t> char_tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto cp = next_code_point(text, pos);
    auto it = cp != invalid_code_point ? ids_.find(cp) : ids_.end();
    ids.push_back(it == ids_.end() ? unk_id : it->second);
  }
  return ids;
}

caf::expected<std::string> char_tokenizer::decode(std::span<const int32_t> ids) const {
  if (auto err = check_ids("char tokenizer", ids, vocab_size()))
    return err;
  std::string out;
  for (const int32_t id : ids) {
    if (id == unk_id)
      append_utf8(out, U'\uFFFD');
    else if (id >= num_specials)
      append_utf8(out, chars_[static_cast<std::size_t>(id - num_specials)]);
  }
  return out;
}

std::string char_tokenizer::serialize() const {
  std::string out = tokenizer_header(name());
  for (char32_t cp : chars_)
    for (std::size_t b = 0; b < 4; ++b)
      out.push_back(static_cast<char>((cp >> (8 * b)) & 0xFF));
  return out;
}

} // namespace llmos::dataset
