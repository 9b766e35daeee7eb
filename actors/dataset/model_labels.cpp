#include "dataset/model_labels.hpp"

#include <functional>
#include <map>
#include <unordered_map>

#include "dataset/annotate/human_labels.hpp"
#include "dataset/store/atomic_file.hpp"

namespace llmos::dataset {

namespace {

/// Every record of a version with the split it belongs to, in shard order.
caf::error read_version(const dataset_store& store, const version_info& v,
                        std::vector<record>& records, std::vector<split_part>& parts) {
  for (const auto& shard : v.shards) {
    auto reader = store.open_shard(v, shard.file);
    if (!reader)
      return std::move(reader.error());
    for (auto& r : reader->records()) {
      records.push_back(std::move(r));
      parts.push_back(shard.part);
    }
  }
  return {};
}

/// How often the model named the label a record already had: overall and by who gave that
/// label (gold: the source's own; labelling_functions; model; human).
nlohmann::json agreement(const std::vector<record>& records,
                         const std::vector<pseudo_label>& checks) {
  std::unordered_map<std::string_view, const record*> by_id;
  for (const auto& r : records)
    by_id.emplace(r.id, &r);
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_source; // scored, agreed
  for (const auto& c : checks) {
    auto it = by_id.find(c.record_id);
    if (it == by_id.end() || it->second->label.empty())
      continue;
    const auto& meta = it->second->meta;
    auto source = meta.find("label_source");
    auto& n = by_source[source == meta.end() || source->second.empty() ? "gold" : source->second];
    ++n.first;
    n.second += it->second->label == c.label ? 1 : 0;
  }
  auto counts = [](uint64_t scored, uint64_t agreed) {
    nlohmann::json out{{"scored", scored}, {"agreed", agreed}};
    if (scored > 0)
      out["share"] = static_cast<double>(agreed) / static_cast<double>(scored);
    return out;
  };
  uint64_t scored = 0;
  uint64_t agreed = 0;
  auto sources = nlohmann::json::object();
  for (const auto& [source, n] : by_source) {
    scored += n.first;
    agreed += n.second;
    sources[source] = counts(n.first, n.second);
  }
  auto out = counts(scored, agreed);
  out["by_source"] = std::move(sources);
  return out;
}

nlohmann::json report_of(const model_labels& in, const pseudo_label_counts& n,
                         const nlohmann::json& agreed, const std::vector<record>& records) {
  std::map<std::string, uint64_t> given;
  double confidence = 0;
  for (const auto& r : records)
    if (auto it = r.meta.find("label_source"); it != r.meta.end() && it->second == "model") {
      ++given[r.label];
      confidence += std::strtod(r.meta.at("label_confidence").c_str(), nullptr);
    }
  nlohmann::json out{{"model", in.model},
                     {"threshold", in.min_confidence},
                     {"asked", in.labels.size()},
                     {"applied", n.applied},
                     {"below_threshold", n.below_threshold},
                     {"already_labelled", n.already_labelled},
                     {"unknown_record", n.unknown_record},
                     {"empty_label", n.empty_label},
                     {"labels", given},
                     {"agreement_with_existing_labels", agreed}};
  if (n.applied > 0)
    out["mean_confidence"] = confidence / static_cast<double>(n.applied);
  return out;
}

pipeline_result result_of(version_info v) {
  pipeline_result out;
  const auto splits = v.manifest.find("splits");
  if (splits != v.manifest.end() && splits->is_object())
    for (const auto& [split, counts] : splits->items()) {
      const uint64_t n = counts.is_object() ? counts.value("records", uint64_t{0}) : 0;
      (split == "train" ? out.train : split == "validation" ? out.validation : out.test) += n;
      out.records += n;
    }
  out.report = v.manifest.value("statistics", nlohmann::json::object());
  out.version = std::move(v);
  return out;
}

/// Reads `base`, lets `relabel` change labels (answering its report and whether anything
/// changed), and stores the result as the current version with the report under `key`.
caf::expected<pipeline_result> store_relabelled(
    const std::string& root, const version_info& base, const std::string& key,
    const std::string& by,
    const std::function<std::pair<nlohmann::json, bool>(std::vector<record>&)>& relabel) {
  auto store = dataset_store::open(
      root, store_options{base.manifest.value("shard_records", uint64_t{10000})});
  if (!store)
    return std::move(store.error());
  std::vector<record> records;
  std::vector<split_part> parts;
  if (auto err = read_version(*store, base, records, parts))
    return err;
  auto [report, changed] = relabel(records);
  if (!changed)
    return result_of(base);
  auto tok = store->load_tokenizer(base);
  if (!tok)
    return std::move(tok.error());
  const auto& m = base.manifest;
  version_metadata meta;
  meta.pipeline_spec = m.value("pipeline_spec", std::string{});
  meta.sources = m.value("sources", nlohmann::json::object());
  meta.rules = m.value("rules", nlohmann::json::object());
  meta.statistics = m.value("statistics", nlohmann::json::object());
  meta.statistics[key] = std::move(report);
  meta.lineage = m.value("lineage", nlohmann::json::object());
  meta.lineage["parent"] = base.version;
  meta.lineage["labelled_by"] = by;
  auto version = store->write(base.dataset, records, parts, meta, tok->get());
  if (!version)
    return std::move(version.error());
  if (auto ok = write_file_atomically(current_version_file(root, base.dataset), version->version);
      !ok)
    return std::move(ok.error());
  return result_of(std::move(*version));
}

} // namespace

caf::expected<pipeline_result> store_model_labels(const model_labels& in) {
  return store_relabelled(in.root, in.base, "pseudo_labels", in.model, [&](auto& records) {
    const auto agreed = agreement(records, in.checks);
    const auto counts = apply_pseudo_labels(records, in.labels, in.min_confidence);
    return std::pair{report_of(in, counts, agreed, records), counts.applied > 0};
  });
}

caf::expected<pipeline_result>
store_human_labels(const std::string& root, const version_info& base,
                   const std::map<std::string, std::string>& labels) {
  return store_relabelled(root, base, "human_labels", "people", [&](auto& records) {
    const auto n = apply_human_labels(records, labels);
    nlohmann::json report{{"labels", labels.size()},
                          {"applied", n.applied},
                          {"unchanged", n.unchanged},
                          {"unknown", n.unknown}};
    return std::pair{std::move(report), n.applied > 0};
  });
}

} // namespace llmos::dataset
