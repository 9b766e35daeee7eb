// The augmentation step of the pipeline. Contract: augmentation runs after the split and only on
// the training split, so no altered copy of a validation or test record can leak into training
// and no synthetic record is ever evaluated on. The pipeline asks may_augment(split) and hands
// the training records to augmenter::augment, which returns only the new records (the caller
// appends them to the training split); the sources are not modified. Each new record is a copy
// of its source with augmented = true, id "<id>#aug<k>" (k = 1..copies) and
// meta["augmented_from"] = id. Text records get one EDA operation per copy, image records a
// random shift and flip. Results depend only on (options, seed, record): every record draws from
// its own std::mt19937_64 seeded with seed ^ fnv1a(id), so shuffling or re-sharding the training
// set does not change what is produced.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "dataset/augment/stop_words.hpp"
#include "dataset/augment/thesaurus.hpp"
#include "dataset/pipeline_spec.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// True only for "train": the one split augmentation may touch.
bool may_augment(const std::string& split);

/// seed ^ FNV-1a-64(id): the per-record seed (stable across platforms and runs).
uint64_t record_seed(uint64_t seed, std::string_view id);

/// What to produce.
struct augment_options {
  uint64_t seed = 0;
  uint32_t copies = 4; ///< new records per source record (the paper's n_aug)
  double rate = 0.1;   ///< EDA's alpha: share of words changed, in [0, 1] (at least one word)
  bool synonym_replacement = true;
  bool random_insertion = true;
  bool random_swap = true;
  bool random_deletion = true;
  uint32_t max_shift = 2;      ///< images: shift by up to ± this many pixels on each axis
  bool horizontal_flip = true; ///< images: flip half of the copies
};

/// The options the pipeline file's `augment` section asks for (all four EDA operations on).
augment_options augment_options_from(const augment_decl& decl);

/// The new records and what was passed over.
struct augment_result {
  std::vector<record> records; ///< the new records only
  uint64_t sources = 0;        ///< records augmented
  uint64_t unchanged = 0;      ///< copies dropped because they equalled the source
  uint64_t skipped = 0; ///< records not augmented: already augmented, meta["split"] not train,
                        ///< empty, or an image whose size is not rows × cols
};

class augmenter {
public:
  /// Checks the options; bad_config when rate is outside [0, 1] or a text operation that needs
  /// the thesaurus (synonym replacement, random insertion) is on without thesaurus or stop words.
  static caf::expected<augmenter> make(augment_options opts, std::shared_ptr<const thesaurus> th,
                                       std::shared_ptr<const stop_words> sw);

  /// The augmented extras of the training split (see the contract above).
  augment_result augment(const std::vector<record>& train) const;

  const augment_options& options() const { return opts_; }

private:
  void augment_text(const record& r, augment_result& out) const;
  void augment_image(const record& r, augment_result& out) const;

  augment_options opts_;
  std::shared_ptr<const thesaurus> thesaurus_;
  std::shared_ptr<const stop_words> stop_words_;
};

} // namespace llmos::dataset
