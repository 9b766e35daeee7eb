#include "dataset/incremental_ingest.hpp"

#include <algorithm>

#include "dataset/pipeline_runner.hpp"
#include "dataset/store/atomic_file.hpp"

namespace llmos::dataset {
namespace {

/// The cursor each source reached, from the manifest's sources[].cursor.last.
std::map<std::string, std::string> cursors_of(const nlohmann::json& manifest) {
  std::map<std::string, std::string> out;
  for (const auto& s : manifest.value("sources", nlohmann::json::array()))
    if (s.is_object() && s.contains("cursor") && s["cursor"].is_object())
      if (auto last = s["cursor"].value("last", std::string{}); !last.empty())
        out[s.value("name", std::string{})] = last;
  return out;
}

} // namespace

caf::expected<std::optional<stored_version>> version_to_extend(const pipeline_spec& spec,
                                                               std::string& why) {
  if (!spec.incremental) {
    why = "the pipeline is not incremental";
    return std::nullopt;
  }
  auto current = read_whole_file(current_version_file(spec.root, spec.dataset));
  while (current && !current->empty() && (current->back() == '\n' || current->back() == ' '))
    current->pop_back();
  if (!current || current->empty()) {
    why = "the data set has no current version yet";
    return std::nullopt;
  }
  auto store = dataset_store::open(spec.root, store_options{spec.shard_records});
  if (!store)
    return std::move(store.error());
  auto info = store->read(spec.dataset, *current);
  if (!info)
    return std::move(info.error());
  if (info->manifest.value("pipeline_spec", std::string{}) != spec.text) {
    why = "the pipeline file changed since version " + info->version;
    return std::nullopt;
  }
  stored_version out;
  out.cursors = cursors_of(info->manifest);
  for (const auto& shard : info->shards) {
    auto reader = store->open_shard(*info, shard.file);
    if (!reader)
      return std::move(reader.error());
    for (const auto& row : reader->rows()) {
      out.ids.emplace(row.id);
      if (!row.augmented)
        out.originals.push_back(row.to_record());
    }
  }
  auto tok = store->load_tokenizer(*info);
  if (!tok)
    return std::move(tok.error());
  out.tok = std::move(*tok);
  out.info = std::move(*info);
  return std::optional<stored_version>{std::move(out)};
}

uint64_t drop_stored(std::vector<record>& fresh, const stored_version& stored) {
  const auto before = fresh.size();
  fresh.erase(std::remove_if(fresh.begin(), fresh.end(),
                             [&](const record& r) { return stored.ids.count(r.id) > 0; }),
              fresh.end());
  return before - fresh.size();
}

} // namespace llmos::dataset
