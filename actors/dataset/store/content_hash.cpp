#include "dataset/store/content_hash.hpp"

#include <algorithm>
#include <memory>
#include <numeric>
#include <tuple>

#include <xxhash.h>

#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

struct state_deleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

// Fields are length-prefixed (and sections tagged) so that no two different inputs can
// serialize to the same byte stream, e.g. text "ab" + label "c" versus text "a" + label "bc".
class hasher {
public:
  hasher() : state_(XXH3_createState()) { XXH3_128bits_reset(state_.get()); }
  void bytes(std::string_view b) {
    u64(b.size());
    XXH3_128bits_update(state_.get(), b.data(), b.size());
  }
  void u64(uint64_t v) {
    unsigned char le[8];
    for (std::size_t i = 0; i < 8; ++i)
      le[i] = static_cast<unsigned char>(v >> (8 * i));
    XXH3_128bits_update(state_.get(), le, sizeof le);
  }
  std::string hex() const {
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state_.get()));
    return to_hex(canon.digest, sizeof canon.digest);
  }
  static std::string to_hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(digits[p[i] >> 4]);
      out.push_back(digits[p[i] & 0xF]);
    }
    return out;
  }

private:
  std::unique_ptr<XXH3_state_t, state_deleter> state_;
};

} // namespace

std::vector<std::size_t> canonical_order(const std::vector<record>& records,
                                         const std::vector<split_part>& assignment) {
  using key_t = std::tuple<const std::string&, const std::string&, const std::string&,
                           const std::string&, uint32_t, uint32_t, bool, uint8_t>;
  auto key = [&](std::size_t i) {
    const auto& r = records[i];
    const auto part = i < assignment.size() ? assignment[i] : split_part::train;
    return key_t{r.id,   r.text, r.label,     r.image,
                 r.rows, r.cols, r.augmented, static_cast<uint8_t>(part)};
  };
  std::vector<std::size_t> order(records.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  return order;
}

caf::expected<std::string> dataset_version(const std::vector<record>& records,
                                           const std::vector<split_part>& assignment,
                                           std::string_view pipeline_spec,
                                           std::string_view tokenizer_bytes) {
  if (assignment.size() != records.size())
    return make_llmos_error(error_code::bad_params,
                            "dataset_version: split assignment has " +
                                std::to_string(assignment.size()) + " entries for " +
                                std::to_string(records.size()) + " records");
  hasher h;
  h.bytes("llmos-dataset-version/1");
  h.bytes("records");
  h.u64(records.size());
  for (std::size_t i : canonical_order(records, assignment)) {
    const auto& r = records[i];
    h.bytes(r.id);
    h.bytes(r.text);
    h.bytes(r.label);
    h.bytes(r.image);
    h.u64(r.rows);
    h.u64(r.cols);
    h.u64(r.augmented ? 1 : 0);
    h.u64(static_cast<uint64_t>(assignment[i]));
    // Who gave the label, when not the source itself (hashed only then, so versions of data
    // without such labels keep their ids).
    if (auto s = r.meta.find("label_source"); s != r.meta.end() && !s->second.empty()) {
      h.bytes("label_source");
      h.bytes(s->second);
    }
  }
  h.bytes("pipeline");
  h.bytes(pipeline_spec);
  h.bytes("tokenizer");
  h.bytes(tokenizer_bytes);
  return h.hex();
}

std::string xxh3_64_hex(std::string_view bytes) {
  XXH64_canonical_t canon;
  XXH64_canonicalFromHash(&canon, XXH3_64bits(bytes.data(), bytes.size()));
  return hasher::to_hex(canon.digest, sizeof canon.digest);
}

} // namespace llmos::dataset
