#include "dataset/store/dataset_store.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>

#include "dataset/store/atomic_file.hpp"
#include "dataset/store/content_hash.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

namespace fs = std::filesystem;

constexpr const char* manifest_name = "manifest.json";
constexpr const char* tokenizer_name = "tokenizer.bin";
constexpr const char* format_name = "llmos-dataset/1";

// Names become path components: refusing separators and leading dots keeps a request from
// reaching outside the store.
caf::expected<void> check_dataset_name(const std::string& name) {
  const bool ok =
      !name.empty() && name.size() <= 200 && name.front() != '.' &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  if (!ok)
    return make_llmos_error(error_code::bad_config,
                            "dataset name '" + name +
                                "' must be 1-200 characters of [A-Za-z0-9._-] not starting "
                                "with '.'");
  return {};
}

bool is_version_name(const std::string& name) {
  return name.size() == 32 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string shard_file_name(split_part part, std::size_t index) {
  char num[16];
  std::snprintf(num, sizeof num, "%05zu", index);
  return std::string{to_string(part)} + "-" + num + ".msgpack";
}

caf::expected<split_part> part_from_string(const std::string& s) {
  for (auto p : {split_part::train, split_part::validation, split_part::test})
    if (to_string(p) == s)
      return p;
  return make_llmos_error(error_code::io_failed, "unknown split '" + s + "'");
}

// A crashed write may have left shards without a manifest: start that folder from scratch.
caf::expected<void> prepare_version_dir(const fs::path& dir) {
  const auto dataset_dir = dir.parent_path();
  try {
    const bool new_dataset = !fs::exists(dataset_dir);
    if (fs::exists(dir)) {
      for (const auto& entry : fs::directory_iterator{dir})
        fs::remove_all(entry.path());
      return {};
    }
    fs::create_directories(dir);
    if (new_dataset)
      if (auto ok = fsync_directory(dataset_dir.parent_path()); !ok)
        return ok;
  } catch (const fs::filesystem_error& e) {
    return make_llmos_error(error_code::io_failed,
                            "cannot prepare version folder '" + dir.string() + "': " + e.what());
  }
  return fsync_directory(dataset_dir);
}

nlohmann::json split_counts(const std::vector<record>& records,
                            const std::vector<split_part>& assignment) {
  std::array<std::map<std::string, uint64_t>, 3> labels;
  std::array<uint64_t, 3> totals{};
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto p = static_cast<std::size_t>(assignment[i]);
    ++totals[p];
    ++labels[p][records[i].label];
  }
  auto out = nlohmann::json::object();
  for (std::size_t p = 0; p < 3; ++p)
    out[std::string{to_string(static_cast<split_part>(p))}] = {{"records", totals[p]},
                                                               {"labels", labels[p]}};
  return out;
}

} // namespace

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

namespace {

caf::error check_assignment(const std::vector<split_part>& assignment) {
  for (std::size_t i = 0; i < assignment.size(); ++i)
    if (static_cast<uint8_t>(assignment[i]) > static_cast<uint8_t>(split_part::test))
      return make_llmos_error(error_code::bad_params, "split assignment of record " +
                                                          std::to_string(i) +
                                                          " is not train, validation or test");
  return {};
}

nlohmann::json shard_json(const shard_info& s) {
  return {{"file", s.file},
          {"split", std::string{to_string(s.part)}},
          {"records", s.records},
          {"bytes", s.bytes},
          {"xxh3_64", s.xxh3_64}};
}

/// One shard: records[members[start..end)] (with their tokens when there is a tokenizer),
/// written atomically into `dir`.
caf::expected<shard_info> write_shard(const fs::path& dir, const std::vector<record>& records,
                                      const std::vector<std::size_t>& members, std::size_t start,
                                      std::size_t end, split_part part, std::size_t n,
                                      const tokenizer* tok) {
  std::vector<std::string> tokens(end - start);
  std::vector<shard_row_view> rows;
  rows.reserve(end - start);
  for (std::size_t k = start; k < end; ++k) {
    const auto& r = records[members[k]];
    if (tok != nullptr && !r.text.empty())
      tokens[k - start] = tokens_to_le(tok->encode(r.text));
    rows.push_back(view_of(r, tokens[k - start]));
  }
  const auto bytes = encode_shard(rows);
  shard_info s{shard_file_name(part, n), part, rows.size(), bytes.size(), xxh3_64_hex(bytes)};
  if (auto ok = write_file_atomically(dir / s.file, bytes); !ok)
    return std::move(ok.error());
  return s;
}

/// The tokenizer's file and its manifest entry (null without one).
caf::expected<nlohmann::json> write_tokenizer(const fs::path& dir, const tokenizer* tok,
                                              const std::string& tok_bytes) {
  if (tok == nullptr)
    return nlohmann::json(nullptr);
  if (auto ok = write_file_atomically(dir / tokenizer_name, tok_bytes); !ok)
    return std::move(ok.error());
  return nlohmann::json{{"name", tok->name()},
                        {"vocab_size", tok->vocab_size()},
                        {"file", tokenizer_name},
                        {"bytes", tok_bytes.size()},
                        {"xxh3_64", xxh3_64_hex(tok_bytes)}};
}

/// Every split's records in shards of `shard_records` into `dir` (added to info.shards); their
/// manifest entries.
caf::expected<nlohmann::json> write_shards(const fs::path& dir, const std::vector<record>& records,
                                           const std::vector<split_part>& assignment,
                                           const tokenizer* tok, std::size_t shard_records,
                                           version_info& info) {
  std::array<std::vector<std::size_t>, 3> by_part;
  for (std::size_t i : canonical_order(records, assignment))
    by_part[static_cast<std::size_t>(assignment[i])].push_back(i);
  auto shards = nlohmann::json::array();
  for (std::size_t p = 0; p < 3; ++p) {
    const auto& members = by_part[p];
    for (std::size_t start = 0, n = 0; start < members.size(); start += shard_records, ++n) {
      const std::size_t end = std::min<std::size_t>(members.size(), start + shard_records);
      auto s = write_shard(dir, records, members, start, end, static_cast<split_part>(p), n, tok);
      if (!s)
        return std::move(s.error());
      shards.push_back(shard_json(*s));
      info.shards.push_back(std::move(*s));
    }
  }
  return shards;
}

} // namespace

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
                   {"lineage", meta.lineage}};
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

caf::expected<std::unique_ptr<tokenizer>>
dataset_store::load_tokenizer(const version_info& info) const {
  const auto& entry =
      info.manifest.contains("tokenizer") ? info.manifest["tokenizer"] : nlohmann::json{};
  if (entry.is_null())
    return std::unique_ptr<tokenizer>{};
  const auto path = fs::path{info.path} / tokenizer_name;
  auto bytes = read_whole_file(path);
  if (!bytes)
    return std::move(bytes.error());
  const auto expected = entry.value("xxh3_64", std::string{});
  if (auto actual = xxh3_64_hex(*bytes); actual != expected)
    return make_llmos_error(error_code::io_failed, "tokenizer '" + path.string() +
                                                       "': checksum mismatch (xxh3-64 " + actual +
                                                       ", manifest says " + expected + ")");
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
