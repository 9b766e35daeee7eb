#include "dataset/annotate/human_labels.hpp"

#include <filesystem>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "dataset/store/atomic_file.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

std::string human_labels_file(const std::string& root, const std::string& dataset) {
  return (std::filesystem::path{root} / dataset / "human-labels.jsonl").string();
}

caf::expected<std::map<std::string, std::string>> read_human_labels(const std::string& file) {
  std::map<std::string, std::string> out;
  if (!std::filesystem::exists(file))
    return out;
  auto bytes = read_whole_file(file);
  if (!bytes)
    return std::move(bytes.error());
  std::istringstream in{*bytes};
  std::string line;
  for (uint64_t n = 1; std::getline(in, line); ++n) {
    if (line.empty())
      continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("label") ||
        !j["label"].is_string())
      return make_llmos_error(error_code::io_failed,
                              file + ":" + std::to_string(n) +
                                  ": not a {\"id\": string, \"label\": string} line");
    out[j["id"].get<std::string>()] = j["label"].get<std::string>();
  }
  return out;
}

caf::expected<std::map<std::string, std::string>>
add_human_labels(const std::string& file, const std::vector<human_label>& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& l = labels[i];
    const auto where = "label " + std::to_string(i + 1);
    if (l.record_id.empty() || l.record_id.size() > max_id_bytes)
      return make_llmos_error(error_code::bad_params, where + ": the record id must be 1 to " +
                                                          std::to_string(max_id_bytes) + " bytes");
    if (l.label.empty() || l.label.size() > max_label_bytes)
      return make_llmos_error(error_code::bad_params,
                              where + " (record " + l.record_id + "): the label must be 1 to " +
                                  std::to_string(max_label_bytes) + " bytes");
  }
  auto all = read_human_labels(file);
  if (!all)
    return all;
  for (const auto& l : labels)
    (*all)[l.record_id] = l.label;
  if (all->size() > max_human_labels)
    return make_llmos_error(error_code::bad_params, file + ": more than " +
                                                        std::to_string(max_human_labels) +
                                                        " labelled records");
  std::string text;
  for (const auto& [id, label] : *all)
    text += nlohmann::json{{"id", id}, {"label", label}}.dump(
                -1, ' ', false, nlohmann::json::error_handler_t::replace) +
            "\n";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path{file}.parent_path(), ec);
  if (auto ok = write_file_atomically(file, text); !ok)
    return std::move(ok.error());
  return all;
}

human_label_counts apply_human_labels(std::vector<record>& records,
                                      const std::map<std::string, std::string>& labels) {
  human_label_counts counts;
  std::unordered_set<std::string_view> seen;
  for (auto& r : records) {
    // An augmented copy ("<id>#aug<k>") follows its original's label.
    const auto aug = r.augmented ? r.id.rfind("#aug") : std::string::npos;
    auto it = labels.find(aug == std::string::npos ? r.id : r.id.substr(0, aug));
    if (it == labels.end())
      continue;
    if (!r.augmented) {
      seen.insert(it->first);
      ++(r.label == it->second ? counts.unchanged : counts.applied);
    }
    r.label = it->second;
    r.meta["label_source"] = "human";
  }
  counts.unknown = labels.size() - seen.size();
  return counts;
}

} // namespace llmos::dataset
