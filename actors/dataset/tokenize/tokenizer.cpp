#include "dataset/tokenize/tokenizer.hpp"

#include "dataset/tokenize/byte_tokenizer.hpp"
#include "dataset/tokenize/char_tokenizer.hpp"
#include "dataset/tokenize/llama_tokenizer.hpp"
#include "dataset/tokenize/sentencepiece_tokenizer.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

constexpr std::string_view header_prefix = "llmos-tokenizer/1 ";

template <class T> caf::expected<std::unique_ptr<tokenizer>> boxed(caf::expected<T> tok) {
  if (!tok)
    return std::move(tok.error());
  return std::make_unique<T>(std::move(*tok));
}

} // namespace

std::string tokenizer_header(std::string_view name) {
  std::string out{header_prefix};
  out += name;
  out += '\n';
  return out;
}

caf::error check_ids(std::string_view who, std::span<const int32_t> ids, int32_t vocab_size) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size)
      return make_llmos_error(error_code::bad_params, std::string{who} + ": id " +
                                                          std::to_string(ids[i]) + " at position " +
                                                          std::to_string(i) +
                                                          " is outside the vocabulary [0, " +
                                                          std::to_string(vocab_size) + ")");
  return {};
}

caf::expected<std::unique_ptr<tokenizer>> tokenizer::load(std::string_view bytes) {
  const auto eol = bytes.find('\n');
  if (!bytes.starts_with(header_prefix) || eol == std::string_view::npos)
    return make_llmos_error(error_code::bad_config,
                            "tokenizer bytes do not start with an 'llmos-tokenizer/1 <kind>' line "
                            "(not written by tokenizer::serialize, or truncated)");
  const auto kind = bytes.substr(header_prefix.size(), eol - header_prefix.size());
  const auto payload = bytes.substr(eol + 1);
  if (kind == "byte") {
    if (!payload.empty())
      return make_llmos_error(error_code::bad_config,
                              "byte tokenizer: unexpected payload after the header line");
    return std::make_unique<byte_tokenizer>();
  }
  if (kind == "char")
    return boxed(char_tokenizer::from_payload(payload));
  if (kind == "llama-bpe")
    return boxed(llama_tokenizer::from_payload(payload));
  if (kind == "sentencepiece-bpe")
    return boxed(
        sentencepiece_tokenizer::from_model(sentencepiece_model::bpe, std::string{payload}));
  if (kind == "sentencepiece-unigram")
    return boxed(
        sentencepiece_tokenizer::from_model(sentencepiece_model::unigram, std::string{payload}));
  return make_llmos_error(
      error_code::bad_config,
      "unknown tokenizer kind '" + std::string{kind} +
          "' (known: byte, char, llama-bpe, sentencepiece-bpe, sentencepiece-unigram)");
}

} // namespace llmos::dataset
