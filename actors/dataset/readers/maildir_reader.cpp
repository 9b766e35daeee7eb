#include "dataset/readers/maildir_reader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "dataset/readers/reader_options.hpp"
#include "dataset/readers/utf8.hpp"
#include "llmos/runtime/text.hpp"

namespace llmos::data {
namespace {

namespace fs = std::filesystem;

/// A stray multi-gigabyte file in a mail folder is a mistake, not an e-mail.
constexpr std::uintmax_t max_file_bytes = 32u << 20;

/// Spaces and tabs only: a label map's names may end in other characters.
std::string trim(std::string_view s) {
  return std::string{text::trim(s, " \t")};
}

caf::expected<std::map<std::string, std::string>> parse_label_map(const source_spec& spec) {
  std::map<std::string, std::string> out;
  auto text = find_option(spec, "label_map");
  if (!text)
    return out;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto entry = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (trim(entry).empty())
      continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos || trim(entry.substr(0, eq)).empty())
      return reader_error(error_code::bad_config, spec, spec.path,
                          "option 'label_map': entry '" + std::string{entry} +
                              "' is not folder=label; write e.g. 'spam-1=spam,easy-ham-1=ham'");
    out[trim(entry.substr(0, eq))] = trim(entry.substr(eq + 1));
  }
  return out;
}

/// The files to read, as paths relative to `root`, sorted.
caf::expected<std::vector<fs::path>> list_files(const source_spec& spec, const fs::path& root,
                                                const std::string& extension) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::recursive_directory_iterator it{root, fs::directory_options::skip_permission_denied, ec};
  for (; !ec && it != fs::recursive_directory_iterator{}; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.starts_with(".")) {
      if (it->is_directory(ec))
        it.disable_recursion_pending();
      continue;
    }
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec))
      continue;
    if (!extension.empty() && !name.ends_with(extension))
      continue;
    out.push_back(it->path().lexically_relative(root));
  }
  if (ec)
    return reader_error(error_code::io_failed, spec, root.string(),
                        "cannot list the folder: " + ec.message() + "; check its permissions");
  std::sort(out.begin(), out.end());
  return out;
}

/// The file's bytes, or a reason why they could not be read.
std::string read_file(const fs::path& path, std::string& bytes) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec)
    return "cannot read the file: " + ec.message();
  if (size > max_file_bytes)
    return "file has " + std::to_string(size) + " bytes, more than the " +
           std::to_string(max_file_bytes) + " a maildir document may have";
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return "cannot open the file; check its permissions";
  bytes.assign(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size)
    return "file shrank while it was read (" + std::to_string(in.gcount()) + " of " +
           std::to_string(size) + " bytes)";
  return {};
}

} // namespace

caf::expected<uint64_t> read_maildir(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  if (auto err = check_options(spec, {"label_from", "label_map", "extension", "raw"}))
    return err;
  // raw: true passes the file's bytes through untouched, for a following email_to_text that
  // decodes each part by its declared charset (repairing here would turn Latin-1 letters into
  // U+FFFD before that decoder sees them).
  const auto raw_option = option_or(spec, "raw", "false");
  if (raw_option != "true" && raw_option != "false")
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'raw': '" + raw_option + "' must be true or false");
  const bool raw = raw_option == "true";
  auto limit = record_limit(spec);
  if (!limit)
    return limit.error();
  const auto label_from = option_or(spec, "label_from", "parent");
  if (label_from != "parent" && label_from != "none")
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'label_from': '" + label_from + "' is unknown; use parent or none");
  auto label_map = parse_label_map(spec);
  if (!label_map)
    return label_map.error();
  if (label_from == "none" && !label_map->empty())
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'label_map' needs label_from: parent; set it or drop the map");
  const fs::path root{spec.path};
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return reader_error(error_code::io_failed, spec, spec.path,
                        "is not a folder; set path to the folder that holds the mail folders");
  auto files = list_files(spec, root, option_or(spec, "extension", ""));
  if (!files)
    return files.error();
  // Check every folder against the map before emitting anything, so a forgotten folder is one
  // clear error instead of a half-read source.
  // A file's folder is the one holding it; files directly in `path` (a source per mail folder)
  // are in that folder.
  const auto root_name = root.lexically_normal().filename().string().empty()
                             ? root.lexically_normal().parent_path().filename().string()
                             : root.lexically_normal().filename().string();
  auto folder_of = [&root_name](const fs::path& rel) {
    return rel.has_parent_path() ? rel.parent_path().filename().string() : root_name;
  };
  std::set<std::string> folders;
  if (label_from == "parent")
    for (const auto& rel : *files)
      folders.insert(folder_of(rel));
  if (!label_map->empty())
    for (const auto& folder : folders)
      if (!label_map->contains(folder))
        return reader_error(error_code::bad_config, spec, spec.path,
                            "option 'label_map': no entry for folder '" + folder + "'; add '" +
                                folder + "=<label>' to the map");
  const std::string rule = reader_rule(spec);
  uint64_t index = 0;
  uint64_t emitted = 0;
  for (const auto& rel : *files) {
    if (limit_reached(*limit, emitted))
      break;
    const auto full = root / rel;
    record r;
    r.origin = source_location{spec.name, full.string(), 0, index++};
    std::string bytes;
    if (auto reason = read_file(full, bytes); !reason.empty()) {
      q.add(quarantine_entry{rule, reason, r.origin, {}});
      continue;
    }
    if (raw || valid_utf8(bytes)) {
      r.text = std::move(bytes);
    } else {
      r.text = to_valid_utf8(bytes);
      r.meta["utf8_repaired"] = "true";
    }
    const std::string folder = folder_of(rel);
    if (label_from == "parent" && !folder.empty()) {
      auto mapped = label_map->find(folder);
      r.label = mapped == label_map->end() ? folder : mapped->second;
    }
    r.id = spec.name + "/" + rel.generic_string();
    r.meta["file"] = rel.generic_string();
    if (!folder.empty())
      r.meta["folder"] = folder;
    ++emitted;
    emit(std::move(r));
  }
  return emitted;
}

} // namespace llmos::data
