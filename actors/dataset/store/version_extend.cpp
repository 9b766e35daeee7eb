// dataset_store::extend: a version made of its parent's files and a few new shards (incremental
// ingest). The parent's shards and tokenizer are hard links in the new folder (a copy where the
// file system has none): stored bytes are never rewritten, and every file is still replaced only
// by rename, so a link never changes under a version that shares it.
#include "dataset/store/dataset_store.hpp"

#include <algorithm>
#include <array>

#include "dataset/store/atomic_file.hpp"
#include "dataset/store/content_hash.hpp"
#include "dataset/store/version_files.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

using namespace version_files;

namespace {

caf::expected<void> link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (!ec)
    return {};
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec)
    return make_llmos_error(error_code::io_failed, "cannot link or copy '" + from.string() +
                                                       "' to '" + to.string() +
                                                       "': " + ec.message());
  return {};
}

/// The parent's split counts plus the new records'.
nlohmann::json merged_splits(nlohmann::json parent, const nlohmann::json& fresh) {
  if (!parent.is_object())
    parent = nlohmann::json::object();
  for (const auto& [part, counts] : fresh.items()) {
    auto& into = parent[part];
    into["records"] = into.value("records", uint64_t{0}) + counts["records"].get<uint64_t>();
    for (const auto& [label, n] : counts["labels"].items())
      into["labels"][label] = into["labels"].value(label, uint64_t{0}) + n.get<uint64_t>();
  }
  return parent;
}

/// The parent's shards, linked into `dir` and listed first in `info` and `entries`; how many
/// each split has (the new shards are numbered after them).
caf::expected<std::array<std::size_t, 3>> link_parent_shards(const version_info& parent,
                                                             const fs::path& dir,
                                                             version_info& info,
                                                             nlohmann::json& entries) {
  std::array<std::size_t, 3> per_part{};
  for (const auto& s : parent.shards) {
    if (auto ok = link_or_copy(fs::path{parent.path} / s.file, dir / s.file); !ok)
      return std::move(ok.error());
    info.shards.push_back(s);
    entries.push_back(shard_json(s));
    ++per_part[static_cast<std::size_t>(s.part)];
  }
  return per_part;
}

/// The parent's tokenizer (linked) when it has one and `tok` is it; else `tok` written anew.
caf::expected<nlohmann::json> keep_tokenizer(const version_info& parent, const fs::path& dir,
                                             const tokenizer* tok, const std::string& tok_bytes) {
  const auto entry = parent.manifest.value("tokenizer", nlohmann::json{});
  if (tok == nullptr || !entry.is_object() ||
      entry.value("xxh3_64", std::string{}) != xxh3_64_hex(tok_bytes))
    return write_tokenizer(dir, tok, tok_bytes);
  if (auto ok = link_or_copy(fs::path{parent.path} / tokenizer_name, dir / tokenizer_name); !ok)
    return std::move(ok.error());
  return entry;
}

/// The parent's side files, linked into `dir`; their manifest entries.
caf::expected<nlohmann::json> link_parent_side_files(const version_info& parent,
                                                     const fs::path& dir) {
  auto entries = nlohmann::json::array();
  for (const auto& entry : parent.manifest.value("side_files", nlohmann::json::array())) {
    const auto name = entry.value("file", std::string{});
    if (auto ok = check_dataset_name(name); !ok)
      return std::move(ok.error());
    if (auto ok = link_or_copy(fs::path{parent.path} / name, dir / name); !ok)
      return std::move(ok.error());
    entries.push_back(entry);
  }
  return entries;
}

/// The manifest of the extension, but for its shards, tokenizer and side files.
nlohmann::json extended_manifest(const version_info& parent, const std::string& version,
                                 const std::vector<record>& records,
                                 const std::vector<split_part>& assignment,
                                 const version_metadata& meta, uint64_t shard_records) {
  auto lineage = meta.lineage;
  lineage["parent"] = parent.version;
  lineage["reused_shards"] = parent.shards.size();
  lineage["new_records"] = records.size();
  return {{"format", format_name},
          {"dataset", parent.dataset},
          {"version", version},
          {"records", parent.manifest.value("records", uint64_t{0}) + records.size()},
          {"shard_records", shard_records},
          {"splits", merged_splits(parent.manifest.value("splits", nlohmann::json::object()),
                                   split_counts(records, assignment))},
          {"pipeline_spec", meta.pipeline_spec},
          {"sources", meta.sources},
          {"rules", meta.rules},
          {"statistics", meta.statistics},
          {"lineage", std::move(lineage)}};
}

} // namespace

caf::expected<version_info> dataset_store::extend(const version_info& parent,
                                                  const std::vector<record>& records,
                                                  const std::vector<split_part>& assignment,
                                                  const version_metadata& meta,
                                                  const tokenizer* tok) const {
  if (auto ok = check_dataset_name(parent.dataset); !ok)
    return std::move(ok.error());
  if (auto err = check_assignment(assignment))
    return err;
  const std::string tok_bytes = tok != nullptr ? tok->serialize() : std::string{};
  auto version = dataset_version(
      records, assignment, "extends " + parent.version + "\n" + meta.pipeline_spec, tok_bytes);
  if (!version)
    return std::move(version.error());
  const fs::path dir = fs::path{root_} / parent.dataset / *version;
  std::error_code ec;
  if (fs::exists(dir / manifest_name, ec))
    return read(parent.dataset, *version);
  if (auto ok = prepare_version_dir(dir); !ok)
    return std::move(ok.error());
  version_info info{parent.dataset, *version, dir.string(), {}, {}};
  auto shards = nlohmann::json::array();
  auto first = link_parent_shards(parent, dir, info, shards);
  if (!first)
    return std::move(first.error());
  auto fresh = write_shards(dir, records, assignment, tok, opts_.shard_records, info, *first);
  if (!fresh)
    return std::move(fresh.error());
  for (auto& s : *fresh)
    shards.push_back(std::move(s));
  auto tok_json = keep_tokenizer(parent, dir, tok, tok_bytes);
  if (!tok_json)
    return std::move(tok_json.error());
  auto side = link_parent_side_files(parent, dir);
  if (!side)
    return std::move(side.error());
  if (auto fresh_side = write_side_files(dir, meta.side_files); fresh_side)
    side->insert(side->end(), fresh_side->begin(), fresh_side->end());
  else
    return std::move(fresh_side.error());
  info.manifest =
      extended_manifest(parent, *version, records, assignment, meta, opts_.shard_records);
  info.manifest["shards"] = std::move(shards);
  info.manifest["tokenizer"] = std::move(*tok_json);
  info.manifest["side_files"] = std::move(*side);
  const auto text = info.manifest.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  if (auto ok = write_file_atomically(dir / manifest_name, text + "\n"); !ok)
    return std::move(ok.error());
  return info;
}

} // namespace llmos::dataset
