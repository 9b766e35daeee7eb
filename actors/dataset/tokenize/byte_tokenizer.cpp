#include "dataset/tokenize/byte_tokenizer.hpp"

namespace llmos::dataset {

std::vector<int32_t> byte_tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (char c : text)
    ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

caf::expected<std::string> byte_tokenizer::decode(std::span<const int32_t> ids) const {
  if (auto err = check_ids("byte tokenizer", ids, vocab_size()))
    return err;
  std::string out;
  out.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id < 256)
      out.push_back(static_cast<char>(static_cast<unsigned char>(id)));
  }
  return out;
}

std::string byte_tokenizer::serialize() const {
  return tokenizer_header(name());
}

} // namespace llmos::dataset
