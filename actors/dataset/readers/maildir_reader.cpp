#include "dataset/readers/maildir_reader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "dataset/readers/reader_options.hpp"
#include "dataset/readers/utf8.hpp"
#include "llmos/runtime/text.hpp"

namespace llmos::dataset {
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

namespace {

/// The maildir options: raw, label_from and label_map, checked together.
struct maildir_options {
  bool raw = false; ///< the file's bytes untouched (see read_maildir)
  bool label_from_parent = true;
  std::map<std::string, std::string> label_map;
};

caf::expected<maildir_options> read_options(const source_spec& spec) {
  maildir_options o;
  // raw: true passes the file's bytes through untouched, for a following email_to_text that
  // decodes each part by its declared charset (repairing here would turn Latin-1 letters into
  // U+FFFD before that decoder sees them).
  const auto raw = option_or(spec, "raw", "false");
  if (raw != "true" && raw != "false")
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'raw': '" + raw + "' must be true or false");
  o.raw = raw == "true";
  const auto label_from = option_or(spec, "label_from", "parent");
  if (label_from != "parent" && label_from != "none")
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'label_from': '" + label_from + "' is unknown; use parent or none");
  o.label_from_parent = label_from == "parent";
  auto label_map = parse_label_map(spec);
  if (!label_map)
    return label_map.error();
  if (!o.label_from_parent && !label_map->empty())
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'label_map' needs label_from: parent; set it or drop the map");
  o.label_map = std::move(*label_map);
  return o;
}

/// A file's folder is the one holding it; files directly in the source's folder (a source per
/// mail folder) are in that folder.
std::string folder_of(const fs::path& root, const fs::path& rel) {
  if (rel.has_parent_path())
    return rel.parent_path().filename().string();
  const auto normal = root.lexically_normal();
  return normal.filename().string().empty() ? normal.parent_path().filename().string()
                                            : normal.filename().string();
}

/// Every folder has an entry in a non-empty label map: a forgotten folder is one clear error
/// before anything is emitted, instead of a half-read source.
caf::error check_label_map(const source_spec& spec, const maildir_options& o, const fs::path& root,
                           const std::vector<fs::path>& files) {
  if (!o.label_from_parent || o.label_map.empty())
    return {};
  std::set<std::string> folders;
  for (const auto& rel : files)
    folders.insert(folder_of(root, rel));
  for (const auto& folder : folders)
    if (!o.label_map.contains(folder))
      return reader_error(error_code::bad_config, spec, spec.path,
                          "option 'label_map': no entry for folder '" + folder + "'; add '" +
                              folder + "=<label>' to the map");
  return {};
}

/// One message file as a record (its bytes repaired to UTF-8 unless raw); false when it could
/// not be read (it went to the quarantine).
bool read_message(const source_spec& spec, const maildir_options& o, const fs::path& root,
                  const fs::path& rel, uint64_t index, quarantine& q, record& r) {
  const auto full = root / rel;
  r.origin = source_location{spec.name, full.string(), 0, index};
  std::string bytes;
  if (auto reason = read_file(full, bytes); !reason.empty()) {
    q.add(quarantine_entry{reader_rule(spec), reason, r.origin, {}});
    return false;
  }
  if (o.raw || valid_utf8(bytes)) {
    r.text = std::move(bytes);
  } else {
    r.text = to_valid_utf8(bytes);
    r.meta["utf8_repaired"] = "true";
  }
  const std::string folder = folder_of(root, rel);
  if (o.label_from_parent && !folder.empty()) {
    auto mapped = o.label_map.find(folder);
    r.label = mapped == o.label_map.end() ? folder : mapped->second;
  }
  r.id = spec.name + "/" + rel.generic_string();
  r.meta["file"] = rel.generic_string();
  if (!folder.empty())
    r.meta["folder"] = folder;
  return true;
}

} // namespace

caf::expected<uint64_t> read_maildir(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  auto limit = checked_record_limit(spec, {"label_from", "label_map", "extension", "raw"});
  if (!limit)
    return limit.error();
  auto opts = read_options(spec);
  if (!opts)
    return opts.error();
  const fs::path root{spec.path};
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return reader_error(error_code::io_failed, spec, spec.path,
                        "is not a folder; set path to the folder that holds the mail folders");
  auto files = list_files(spec, root, option_or(spec, "extension", ""));
  if (!files)
    return files.error();
  if (auto err = check_label_map(spec, *opts, root, *files))
    return err;
  uint64_t index = 0;
  uint64_t emitted = 0;
  for (const auto& rel : *files) {
    if (limit_reached(*limit, emitted))
      break;
    record r;
    if (!read_message(spec, *opts, root, rel, index++, q, r))
      continue;
    ++emitted;
    emit(std::move(r));
  }
  return emitted;
}

} // namespace llmos::dataset
