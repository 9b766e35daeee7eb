#include "dataset/store/dataset_store.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>

#include "dataset/store/atomic_file.hpp"
#include "dataset/store/content_hash.hpp"
#include "dataset/store/version_files.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

using namespace version_files;
namespace fs = std::filesystem;

caf::expected<dataset_store> dataset_store::open(std::string root, store_options opts) {
  if (opts.shard_records == 0)
    return make_llmos_error(error_code::bad_config, "store option shard_records must be > 0");
  try {
    fs::create_directories(root);
    // Leftovers of interrupted writes live exactly two levels down (<dataset>/<version>/); a
    // live writer's temporaries (another process on this store) are left alone.
    for (const auto& ds : fs::directory_iterator{root}) {
      if (!ds.is_directory())
        continue;
      for (const auto& ver : fs::directory_iterator{ds.path()}) {
        if (!ver.is_directory())
          continue;
        for (const auto& f : fs::directory_iterator{ver.path()})
          if (abandoned_temporary(f.path()))
            fs::remove(f.path());
      }
    }
  } catch (const fs::filesystem_error& e) {
    return make_llmos_error(error_code::io_failed,
                            "cannot open data set store '" + root +
                                "' (create it, clean leftovers): " + e.what());
  }
  dataset_store store;
  store.root_ = std::move(root);
  store.opts_ = opts;
  return store;
}

caf::expected<version_info> dataset_store::write(const std::string& dataset,
                                                 const std::vector<record>& records,
                                                 const std::vector<split_part>& assignment,
                                                 const version_metadata& meta,
                                                 const tokenizer* tok) const {
  if (auto ok = check_dataset_name(dataset); !ok)
    return std::move(ok.error());
  if (auto err = check_assignment(assignment))
    return err;
  const std::string tok_bytes = tok != nullptr ? tok->serialize() : std::string{};
  auto version = dataset_version(records, assignment, meta.pipeline_spec, tok_bytes);
  if (!version)
    return std::move(version.error());
  const fs::path dir = fs::path{root_} / dataset / *version;
  std::error_code ec;
  if (fs::exists(dir / manifest_name, ec))
    return read(dataset, *version);
  if (auto ok = prepare_version_dir(dir); !ok)
    return std::move(ok.error());
  version_info info{dataset, *version, dir.string(), {}, {}};
  auto shards = write_shards(dir, records, assignment, tok, opts_.shard_records, info);
  if (!shards)
    return std::move(shards.error());
  auto tok_json = write_tokenizer(dir, tok, tok_bytes);
  if (!tok_json)
    return std::move(tok_json.error());
  auto side = write_side_files(dir, meta.side_files);
  if (!side)
    return std::move(side.error());
  info.manifest = {{"format", format_name},
                   {"dataset", dataset},
                   {"version", *version},
                   {"records", records.size()},
                   {"shard_records", opts_.shard_records},
                   {"splits", split_counts(records, assignment)},
                   {"shards", std::move(*shards)},
                   {"tokenizer", std::move(*tok_json)},
                   {"pipeline_spec", meta.pipeline_spec},
                   {"sources", meta.sources},
                   {"rules", meta.rules},
                   {"statistics", meta.statistics},
                   {"lineage", meta.lineage},
                   {"side_files", std::move(*side)}};
  // Labels and the pipeline text are user data: invalid UTF-8 must not abort the write.
  const auto text = info.manifest.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  // The manifest goes last: its presence is what makes the version exist.
  if (auto ok = write_file_atomically(dir / manifest_name, text + "\n"); !ok)
    return std::move(ok.error());
  return info;
}

caf::expected<std::vector<std::string>> dataset_store::versions(const std::string& dataset) const {
  return list_versions(root_, dataset);
}

caf::expected<version_info> dataset_store::read(const std::string& dataset,
                                                const std::string& version) const {
  if (auto ok = check_dataset_name(dataset); !ok)
    return std::move(ok.error());
  if (!is_version_name(version))
    return make_llmos_error(error_code::bad_params,
                            "'" + version + "' is not a data set version (32 hex digits)");
  const fs::path dir = fs::path{root_} / dataset / version;
  const auto path = dir / manifest_name;
  auto text = read_whole_file(path);
  if (!text)
    return make_llmos_error(error_code::io_failed, "version " + version + " of data set '" +
                                                       dataset + "' has no readable manifest ('" +
                                                       path.string() + "')");
  version_info info{dataset, version, dir.string(), {}, {}};
  try {
    info.manifest = nlohmann::json::parse(*text);
    if (info.manifest.at("format").get<std::string>() != format_name)
      return make_llmos_error(error_code::io_failed,
                              "manifest '" + path.string() + "' has an unknown format");
    for (const auto& s : info.manifest.at("shards")) {
      auto part = part_from_string(s.at("split").get<std::string>());
      if (!part)
        return std::move(part.error());
      info.shards.push_back({s.at("file").get<std::string>(), *part,
                             s.at("records").get<uint64_t>(), s.at("bytes").get<uint64_t>(),
                             s.at("xxh3_64").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    return make_llmos_error(error_code::io_failed,
                            "manifest '" + path.string() + "' is malformed: " + e.what());
  }
  return info;
}

caf::expected<shard_reader> dataset_store::open_shard(const version_info& info,
                                                      const std::string& file) const {
  auto it = std::find_if(info.shards.begin(), info.shards.end(),
                         [&](const shard_info& s) { return s.file == file; });
  if (it == info.shards.end())
    return make_llmos_error(error_code::bad_params, "version " + info.version + " of '" +
                                                        info.dataset + "' has no shard '" + file +
                                                        "'");
  return shard_reader::open((fs::path{info.path} / it->file).string(), it->xxh3_64);
}

caf::expected<std::optional<std::string>>
dataset_store::read_side_file(const version_info& info, const std::string& name) const {
  for (const auto& entry : info.manifest.value("side_files", nlohmann::json::array())) {
    if (!entry.is_object() || entry.value("file", std::string{}) != name)
      continue;
    auto bytes =
        read_checked(fs::path{info.path} / name, entry.value("xxh3_64", std::string{}), "");
    if (!bytes)
      return std::move(bytes.error());
    return std::optional<std::string>{std::move(*bytes)};
  }
  return std::optional<std::string>{};
}

caf::expected<std::unique_ptr<tokenizer>>
dataset_store::load_tokenizer(const version_info& info) const {
  const auto& entry =
      info.manifest.contains("tokenizer") ? info.manifest["tokenizer"] : nlohmann::json{};
  if (entry.is_null())
    return std::unique_ptr<tokenizer>{};
  auto bytes = read_checked(fs::path{info.path} / tokenizer_name,
                            entry.value("xxh3_64", std::string{}), "tokenizer ");
  if (!bytes)
    return std::move(bytes.error());
  return tokenizer::load(*bytes);
}

caf::expected<std::vector<std::string>> list_versions(const std::string& root,
                                                      const std::string& dataset) {
  if (auto ok = check_dataset_name(dataset); !ok)
    return std::move(ok.error());
  const fs::path dir = fs::path{root} / dataset;
  std::vector<std::string> out;
  try {
    if (!fs::exists(dir))
      return out;
    for (const auto& entry : fs::directory_iterator{dir}) {
      const auto name = entry.path().filename().string();
      // No manifest means an interrupted write: that folder is not a version.
      if (entry.is_directory() && is_version_name(name) &&
          fs::is_regular_file(entry.path() / manifest_name))
        out.push_back(name);
    }
  } catch (const fs::filesystem_error& e) {
    return make_llmos_error(error_code::io_failed,
                            "cannot list versions in '" + dir.string() + "': " + e.what());
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace llmos::dataset