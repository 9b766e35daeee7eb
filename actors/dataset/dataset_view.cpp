#include "dataset/dataset_view.hpp"

#include "dataset/split/split.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

caf::expected<dataset_view> dataset_view::load(const dataset_store& store,
                                               const version_info& version) {
  dataset_view view;
  view.version_ = version;
  for (const char* s : {"train", "validation", "test"})
    view.splits_[s];
  for (const auto& shard : version.shards) {
    auto reader = store.open_shard(version, shard.file);
    if (!reader)
      return std::move(reader.error());
    auto& out = view.splits_[std::string{to_string(shard.part)}];
    for (const auto& row : reader->rows()) {
      served_record r;
      r.id = row.id;
      r.text = row.text;
      r.label = row.label;
      r.image = row.image;
      r.rows = row.rows;
      r.cols = row.cols;
      r.augmented = row.augmented;
      r.label_source = row.label_source;
      r.tokens = row.tokens();
      view.images_ = view.images_ || !r.image.empty();
      out.push_back(std::move(r));
    }
  }
  if (auto tok = store.load_tokenizer(version); tok && *tok) {
    auto pad = (*tok)->specials().pad;
    view.pad_id_ = pad >= 0 ? pad : 0;
    view.tokenizer_bytes_ = (*tok)->serialize();
  }
  const auto& stats = version.manifest.value("statistics", nlohmann::json::object());
  if (stats.contains("tokenizer") && stats["tokenizer"].is_object())
    view.max_length_ = stats["tokenizer"].value("max_length", 128u);
  return view;
}

const std::vector<served_record>& dataset_view::split(const std::string& name) const {
  static const std::vector<served_record> none;
  auto i = splits_.find(name);
  return i == splits_.end() ? none : i->second;
}

bool dataset_view::is_split(const std::string& name) {
  return name == "train" || name == "validation" || name == "test";
}

} // namespace llmos::dataset
