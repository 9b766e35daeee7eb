#include "dataset/incremental_ingest.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <unordered_set>

#include "dataset/pipeline_runner.hpp"
#include "dataset/store/atomic_file.hpp"
#include "llmos/messages/error.hpp"

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

/// The keys of `info`: from its keys files, else computed from its shards.
caf::expected<std::size_t> load_keys(const dataset_store& store, const version_info& info,
                                     const std::optional<near_dedupe_options>& near,
                                     stored_keys& keys) {
  std::size_t files = 0;
  for (;; ++files) {
    auto bytes = store.read_side_file(info, keys_file_name(files));
    if (!bytes)
      return std::move(bytes.error());
    if (!*bytes)
      break;
    auto more = stored_keys::decode(**bytes, keys_file_name(files));
    if (!more)
      return std::move(more.error());
    if (!keys.append(*more))
      return make_llmos_error(error_code::io_failed, "version " + info.version + ": " +
                                                         keys_file_name(files) +
                                                         " was made with other options");
  }
  if (files > 0)
    return files;
  std::vector<record> originals; // a version without keys files: hash its records once
  for (const auto& shard : info.shards) {
    auto reader = store.open_shard(info, shard.file);
    if (!reader)
      return std::move(reader.error());
    for (const auto& row : reader->rows())
      if (!row.augmented)
        originals.push_back(row.to_record());
  }
  keys = compute_stored_keys(originals, near);
  return std::size_t{0};
}

} // namespace

std::string keys_file_name(std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "keys-%05zu.bin", index);
  return name;
}

caf::expected<std::optional<stored_version>>
version_to_extend(const pipeline_spec& spec, const std::optional<near_dedupe_options>& near,
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
  out.root = spec.root;
  out.cursors = cursors_of(info->manifest);
  auto files = load_keys(*store, *info, near, out.keys);
  if (!files)
    return std::move(files.error());
  out.key_files = *files;
  auto tok = store->load_tokenizer(*info);
  if (!tok)
    return std::move(tok.error());
  out.tok = std::move(*tok);
  out.info = std::move(*info);
  return std::optional<stored_version>{std::move(out)};
}

caf::expected<std::unordered_map<uint32_t, std::string>>
stored_texts(const stored_version& stored, const std::vector<uint32_t>& indices) {
  std::unordered_map<std::string, uint32_t> wanted;
  for (auto i : indices)
    if (i < stored.keys.size())
      wanted.emplace(stored.keys.ids[i], i);
  std::unordered_map<uint32_t, std::string> out;
  auto store = dataset_store::open(stored.root);
  if (!store)
    return std::move(store.error());
  for (const auto& shard : stored.info.shards) {
    if (wanted.empty())
      break;
    auto reader = store->open_shard(stored.info, shard.file);
    if (!reader)
      return std::move(reader.error());
    for (const auto& row : reader->rows())
      if (auto it = wanted.find(std::string{row.id}); it != wanted.end() && !row.augmented) {
        out.emplace(it->second, std::string{row.text});
        wanted.erase(it);
      }
  }
  return out;
}

uint64_t drop_stored(std::vector<record>& fresh, const stored_version& stored) {
  // The few new ids are hashed, the many stored ones only looked up.
  std::unordered_set<std::string_view> fresh_ids;
  for (const auto& r : fresh)
    fresh_ids.insert(r.id);
  std::unordered_set<std::string_view> known; // views of stored.keys.ids
  for (const auto& id : stored.keys.ids)
    if (fresh_ids.count(id) > 0)
      known.insert(id);
  const auto before = fresh.size();
  std::erase_if(fresh, [&](const record& r) { return known.count(r.id) > 0; });
  return before - fresh.size();
}

} // namespace llmos::dataset
