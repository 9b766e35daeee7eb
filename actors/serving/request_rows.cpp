#include "serving/request_rows.hpp"

#include <cstring>

#include "llmos/messages/error.hpp"

namespace llmos::serving {
namespace {

caf::error bad(const std::string& what) {
  return make_llmos_error(error_code::bad_params, "predict: " + what);
}

std::string id_row(const std::vector<int32_t>& ids, const row_format& fmt) {
  std::vector<int32_t> row(static_cast<std::size_t>(fmt.max_length), fmt.pad_id);
  std::copy_n(ids.begin(), std::min(ids.size(), row.size()), row.begin());
  return std::string{reinterpret_cast<const char*>(row.data()), row.size() * sizeof(int32_t)};
}

caf::expected<std::vector<std::string>> rows_of_inputs(const tensor_bytes& in,
                                                       const row_format& fmt) {
  if (in.shape.empty() || in.shape[0] < 0)
    return bad("inputs: shape must start with the number of rows");
  const auto n = static_cast<std::size_t>(in.shape[0]);
  std::size_t per_row = 1;
  for (std::size_t i = 1; i < in.shape.size(); ++i)
    per_row *= static_cast<std::size_t>(std::max<int64_t>(in.shape[i], 0));
  const std::size_t elem = in.dtype == "i32" ? 4 : in.dtype == "u8" ? 1 : 0;
  if (elem == 0)
    return bad("inputs: dtype must be i32 (token ids) or u8 (pixels), got '" + in.dtype + "'");
  if (in.data.size() != n * per_row * elem)
    return bad("inputs: " + std::to_string(in.data.size()) + " bytes do not fill the shape");
  std::vector<std::string> rows;
  if (fmt.images) {
    const auto side = static_cast<std::size_t>(fmt.image_size);
    if (in.dtype != "u8" || in.shape.size() != 3 || per_row != side * side)
      return bad("inputs: this model takes u8 images [n, " + std::to_string(side) + ", " +
                 std::to_string(side) + "]");
    for (std::size_t r = 0; r < n; ++r)
      rows.push_back(in.data.substr(r * per_row, per_row));
    return rows;
  }
  if (in.dtype != "i32" || in.shape.size() != 2)
    return bad("inputs: this model takes i32 token ids [n, length] or texts");
  for (std::size_t r = 0; r < n; ++r) {
    std::vector<int32_t> ids(per_row);
    std::memcpy(ids.data(), in.data.data() + r * per_row * 4, per_row * 4);
    rows.push_back(id_row(ids, fmt));
  }
  return rows;
}

} // namespace

caf::expected<std::vector<std::string>> rows_of(const predict_request& req, const row_format& fmt) {
  if (req.texts.empty())
    return rows_of_inputs(req.inputs, fmt);
  if (fmt.images || !fmt.tokenizer)
    return bad("texts: this model takes images; send inputs (u8 pixels)");
  std::vector<std::string> rows;
  rows.reserve(req.texts.size());
  for (const auto& text : req.texts)
    rows.push_back(id_row(fmt.tokenizer->encode(text), fmt));
  return rows;
}

tensor_bytes batch_of(const std::vector<const std::string*>& rows, const row_format& fmt) {
  tensor_bytes t;
  const auto n = static_cast<int64_t>(rows.size());
  if (fmt.images) {
    t.dtype = "u8";
    t.shape = {n, fmt.image_size, fmt.image_size};
  } else {
    t.dtype = "i32";
    t.shape = {n, fmt.max_length};
  }
  std::size_t total = 0;
  for (const auto* r : rows)
    total += r->size();
  t.data.reserve(total);
  for (const auto* r : rows)
    t.data += *r;
  return t;
}

std::size_t complete_utf8_prefix(const std::string& text) {
  // Walk back over at most 3 continuation bytes to the last lead byte and check its length.
  std::size_t i = text.size();
  std::size_t back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>(text[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++back;
  }
  if (i == 0)
    return back == 0 ? 0 : text.size();
  const auto lead = static_cast<unsigned char>(text[i - 1]);
  std::size_t need = lead < 0x80 ? 0 : (lead >> 5) == 0x6 ? 1 : (lead >> 4) == 0xE ? 2 : 3;
  if (lead < 0x80)
    return text.size(); // stray continuation bytes: not UTF-8 anyway, nothing to wait for
  return back >= need ? text.size() : i - 1;
}

caf::expected<std::string> continuation_text(const dataset::tokenizer& tok,
                                             const std::vector<int32_t>& prompt,
                                             const std::vector<int32_t>& ids) {
  if (prompt.empty())
    return tok.decode(ids);
  auto head = tok.decode(prompt);
  if (!head)
    return head;
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), ids.begin(), ids.end());
  auto whole = tok.decode(all);
  if (!whole)
    return whole;
  if (!whole->starts_with(*head))
    return tok.decode(ids);
  return whole->substr(head->size());
}

} // namespace llmos::serving
