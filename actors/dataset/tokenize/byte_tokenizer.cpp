#include "dataset/tokenize/byte_tokenizer.hpp"

#include "llmos/messages/error.hpp"

namespace llmos::dataset {

std::vector<int32_t> byte_tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (char c : text)
    ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

caf::expected<std::string> byte_tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  out.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= vocab_size())
      return make_llmos_error(error_code::bad_params, "byte tokenizer: id " + std::to_string(id) +
                                                          " at position " + std::to_string(i) +
                                                          " is outside the vocabulary [0, 259)");
    if (id < 256)
      out.push_back(static_cast<char>(static_cast<unsigned char>(id)));
  }
  return out;
}

std::string byte_tokenizer::serialize() const {
  return tokenizer_header(name());
}

} // namespace llmos::dataset
