#include "dataset/augment/augmenter.hpp"

#include <random>

#include "dataset/augment/eda.hpp"
#include "dataset/augment/image_augment.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

// A random operation can leave a record as it was (no word deleted, a swap of equal words);
// such a copy adds nothing, so it is drawn again a few times before being dropped.
constexpr int attempts = 3;

record make_copy(const record& source, uint32_t k, std::string what) {
  record copy = source;
  copy.id = source.id + "#aug" + std::to_string(k);
  copy.augmented = true;
  copy.meta["augmented_from"] = source.id;
  copy.meta["augmentation"] = std::move(what);
  return copy;
}

} // namespace

bool may_augment(const std::string& split) {
  return split == "train";
}

uint64_t record_seed(uint64_t seed, std::string_view id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return seed ^ h;
}

augment_options augment_options_from(const augment_decl& decl) {
  augment_options o;
  o.seed = decl.seed;
  o.copies = decl.copies;
  o.rate = decl.rate;
  o.max_shift = decl.image_shift;
  o.horizontal_flip = decl.image_flip;
  return o;
}

caf::expected<augmenter> augmenter::make(augment_options opts, std::shared_ptr<const thesaurus> th,
                                         std::shared_ptr<const stop_words> sw) {
  if (!(opts.rate >= 0 && opts.rate <= 1))
    return make_llmos_error(error_code::bad_config,
                            "augment.rate must be in [0, 1], got " + std::to_string(opts.rate));
  if ((opts.synonym_replacement || opts.random_insertion) && (!th || !sw))
    return make_llmos_error(error_code::bad_config,
                            "augment: synonym replacement and random insertion need the "
                            "thesaurus and the stop-word list; load them (tools/setup/setup.sh "
                            "installs both) or turn these operations off");
  augmenter a;
  a.opts_ = opts;
  a.thesaurus_ = th ? std::move(th) : std::make_shared<const thesaurus>();
  a.stop_words_ = sw ? std::move(sw) : std::make_shared<const stop_words>();
  return a;
}

augment_result augmenter::augment(const std::vector<record>& train) const {
  augment_result out;
  for (const auto& r : train) {
    auto split = r.meta.find("split");
    if (r.augmented || (split != r.meta.end() && !may_augment(split->second))) {
      ++out.skipped;
      continue;
    }
    if (!r.image.empty()) {
      if (r.image.size() != static_cast<uint64_t>(r.rows) * r.cols) {
        ++out.skipped;
        continue;
      }
      augment_image(r, out);
    } else if (!r.text.empty()) {
      augment_text(r, out);
    } else {
      ++out.skipped;
      continue;
    }
    ++out.sources;
  }
  return out;
}

void augmenter::augment_text(const record& r, augment_result& out) const {
  std::vector<eda_operation> ops;
  if (opts_.synonym_replacement)
    ops.push_back(eda_operation::synonym_replacement);
  if (opts_.random_insertion)
    ops.push_back(eda_operation::random_insertion);
  if (opts_.random_swap)
    ops.push_back(eda_operation::random_swap);
  if (opts_.random_deletion)
    ops.push_back(eda_operation::random_deletion);
  if (ops.empty())
    return;
  std::mt19937_64 rng{record_seed(opts_.seed, r.id)};
  const eda ops_impl{*thesaurus_, *stop_words_};
  // Copies take the operations in turn from a random starting point, so a record with fewer
  // copies than operations still gets a varied mix across the data set.
  const auto first = uniform_below(rng, ops.size());
  for (uint32_t k = 1; k <= opts_.copies; ++k) {
    const auto op = ops[(first + k - 1) % ops.size()];
    std::string text;
    for (int a = 0; a < attempts && (text.empty() || text == r.text); ++a)
      text = ops_impl.apply(op, r.text, opts_.rate, rng);
    if (text.empty() || text == r.text) {
      ++out.unchanged;
      continue;
    }
    auto copy = make_copy(r, k, std::string{to_string(op)});
    copy.text = std::move(text);
    out.records.push_back(std::move(copy));
  }
}

void augmenter::augment_image(const record& r, augment_result& out) const {
  std::mt19937_64 rng{record_seed(opts_.seed, r.id)};
  const auto span = 2 * static_cast<uint64_t>(opts_.max_shift) + 1;
  for (uint32_t k = 1; k <= opts_.copies; ++k) {
    std::string pixels;
    std::string what;
    for (int a = 0; a < attempts && (pixels.empty() || pixels == r.image); ++a) {
      const auto dx =
          static_cast<int32_t>(uniform_below(rng, span)) - static_cast<int32_t>(opts_.max_shift);
      const auto dy =
          static_cast<int32_t>(uniform_below(rng, span)) - static_cast<int32_t>(opts_.max_shift);
      const bool flip = opts_.horizontal_flip && bernoulli(rng, 0.5);
      pixels = shift_image(r.image, r.rows, r.cols, dx, dy);
      if (flip)
        pixels = flip_horizontal(pixels, r.rows, r.cols);
      what = "shift(" + std::to_string(dx) + "," + std::to_string(dy) + ")" + (flip ? "+flip" : "");
    }
    if (pixels == r.image) {
      ++out.unchanged;
      continue;
    }
    auto copy = make_copy(r, k, std::move(what));
    copy.image = std::move(pixels);
    out.records.push_back(std::move(copy));
  }
}

} // namespace llmos::dataset
