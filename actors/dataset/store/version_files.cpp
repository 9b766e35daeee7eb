#include "dataset/store/version_files.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>

#include "dataset/store/atomic_file.hpp"
#include "dataset/store/content_hash.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset::version_files {

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

namespace {

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

} // namespace

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

caf::expected<nlohmann::json> write_shards(const fs::path& dir, const std::vector<record>& records,
                                           const std::vector<split_part>& assignment,
                                           const tokenizer* tok, std::size_t shard_records,
                                           version_info& info, std::array<std::size_t, 3> first) {
  std::array<std::vector<std::size_t>, 3> by_part;
  for (std::size_t i : canonical_order(records, assignment))
    by_part[static_cast<std::size_t>(assignment[i])].push_back(i);
  auto shards = nlohmann::json::array();
  for (std::size_t p = 0; p < 3; ++p) {
    const auto& members = by_part[p];
    for (std::size_t start = 0, n = first[p]; start < members.size(); start += shard_records, ++n) {
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

caf::expected<std::string> read_checked(const fs::path& path, const std::string& expected,
                                        const std::string& what) {
  auto bytes = read_whole_file(path);
  if (!bytes)
    return std::move(bytes.error());
  if (auto actual = xxh3_64_hex(*bytes); actual != expected)
    return make_llmos_error(error_code::io_failed, what + "'" + path.string() +
                                                       "': checksum mismatch (xxh3-64 " + actual +
                                                       ", manifest says " + expected + ")");
  return bytes;
}

caf::expected<nlohmann::json> write_side_files(const fs::path& dir,
                                               const std::map<std::string, std::string>& files) {
  auto entries = nlohmann::json::array();
  for (const auto& [name, bytes] : files) {
    if (auto ok = check_dataset_name(name); !ok || name == manifest_name || name == tokenizer_name)
      return make_llmos_error(error_code::bad_params,
                              "side file name '" + name + "' is not a plain file name of its own");
    if (auto ok = write_file_atomically(dir / name, bytes); !ok)
      return std::move(ok.error());
    entries.push_back({{"file", name}, {"bytes", bytes.size()}, {"xxh3_64", xxh3_64_hex(bytes)}});
  }
  return entries;
}

} // namespace llmos::dataset::version_files
