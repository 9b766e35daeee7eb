// OpenAI's `logprobs` object of a completion, from the log-probabilities the model sent with each
// token: the tokens as text pieces (each decoded after the token before it, so a piece keeps its
// leading space), their log-probabilities, the most likely alternatives per position, and each
// piece's offset in the completion's text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataset/tokenize/tokenizer.hpp"

namespace llmos::serving {

/// The JSON text of {"tokens", "token_logprobs", "top_logprobs", "text_offset"} for the tokens
/// in `per_token` (each {"token", "logprob", "top": [[id, lp], ...]}) generated after `prompt`;
/// tokens that start at or after `text_limit` (a stop sequence cut the text there) are left out.
std::string openai_logprobs(const dataset::tokenizer& tok, const std::vector<int32_t>& prompt,
                            const std::vector<std::string>& per_token, std::size_t text_limit);

/// The same for the tokens whose pieces start in [from, text_limit) of the completion's text
/// (offsets still from its start): the part of a streamed answer one chunk carries.
std::string openai_logprobs(const dataset::tokenizer& tok, const std::vector<int32_t>& prompt,
                            const std::vector<std::string>& per_token, std::size_t from,
                            std::size_t text_limit);

} // namespace llmos::serving
