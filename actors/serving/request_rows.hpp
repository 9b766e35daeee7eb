// Turning a predict request into model rows and rows into one batch tensor. A row is the bytes
// of one example as the deployed model takes it: max_length i32 token ids (text tokenized with
// the version's own tokenizer, padded or cut) or image_size² u8 pixels. Rows of one deployment
// all have one size, so any of them can share a batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/tokenize/tokenizer.hpp"
#include "llmos/messages/serving.hpp"

namespace llmos::serving {

struct row_format {
  bool images = false;
  int64_t max_length = 128; ///< text: ids per row
  int32_t pad_id = 0;
  int64_t image_size = 28;                       ///< images: side of the square
  const dataset::tokenizer* tokenizer = nullptr; ///< text models; null for images
};

/// The rows of `req`; bad_params names the field (texts / inputs), the row and what is wrong.
caf::expected<std::vector<std::string>> rows_of(const predict_request& req, const row_format& fmt);

/// One [n, ...] tensor of `rows` (all of the format's row size).
tensor_bytes batch_of(const std::vector<const std::string*>& rows, const row_format& fmt);

/// The text `ids` add after `prompt`: decode(prompt + ids) less decode(prompt). SentencePiece-
/// style tokenizers drop the leading space of the first piece they decode, which is right for a
/// whole text and wrong for a continuation ("Once upon a" + " time").
caf::expected<std::string> continuation_text(const dataset::tokenizer& tok,
                                             const std::vector<int32_t>& prompt,
                                             const std::vector<int32_t>& ids);

/// The longest prefix of `text` that ends on a whole UTF-8 character (streamed byte-level
/// models may stop inside one).
std::size_t complete_utf8_prefix(const std::string& text);

} // namespace llmos::serving
