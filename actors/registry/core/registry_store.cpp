#include "registry/core/registry_store.hpp"

#include <algorithm>
#include <utility>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/atomic_file.hpp"
#include "registry/core/model_folder.hpp"
#include "registry/core/registry_names.hpp"

namespace llmos::registry {
namespace {

namespace fs = std::filesystem;

constexpr const char* weights_file_name = "weights.pt";
constexpr const char* tokenizer_file_name = "tokenizer.bin";
constexpr const char* spec_file_name = "spec.yaml";
constexpr const char* meta_file_name = "meta.json";

caf::error fs_error(const std::string& what, const fs::path& path, const std::error_code& ec) {
  return make_llmos_error(error_code::io_failed,
                          "cannot " + what + " '" + path.string() + "': " + ec.message());
}

// Removes a half-written temporary on every early return of publish(); dismissed on success.
struct remove_on_failure {
  fs::path path;
  ~remove_on_failure() {
    if (!path.empty()) {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  }
};

// The contents of a version's file, checked against what meta.json recorded when it was written.
caf::expected<std::string> read_verified(const fs::path& file, const std::string& expected_xxh3,
                                         uint32_t version) {
  auto bytes = read_whole_file(file);
  if (!bytes)
    return bytes.error();
  if (auto actual = xxh3_hex(*bytes); actual != expected_xxh3)
    return make_llmos_error(error_code::bad_config,
                            "'" + file.string() + "' is corrupt: its XXH3 is " + actual +
                                " but meta.json records " + expected_xxh3 +
                                "; restore the file or remove version " + std::to_string(version));
  return bytes;
}

} // namespace

caf::expected<registry_store> registry_store::open(fs::path root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return fs_error("create the registry folder", root, ec);
  if (!fs::is_directory(root, ec))
    return make_llmos_error(error_code::io_failed,
                            "registry root '" + root.string() + "' is not a folder");
  for (fs::directory_iterator it{root, ec}, end; !ec && it != end; it.increment(ec))
    if (is_valid_name(it->path().filename().string()) && it->is_directory())
      if (auto ok = sweep_temporaries(it->path()); !ok)
        return ok.error();
  if (ec)
    return fs_error("list", root, ec);
  return registry_store{std::move(root)};
}

namespace {

/// Metrics and lineage are JSON objects (null means empty); lineage.parent a version or null.
caf::error check_publishable(const std::string& name, nlohmann::json& metrics,
                             nlohmann::json& lineage) {
  if (auto ok = check_model_name(name); !ok)
    return ok.error();
  // nlohmann::json{} is null, so a caller passing "nothing" means an empty object.
  if (metrics.is_null())
    metrics = nlohmann::json::object();
  if (lineage.is_null())
    lineage = nlohmann::json::object();
  if (!metrics.is_object() || !lineage.is_object())
    return make_llmos_error(error_code::bad_params,
                            "publishing '" + name + "': metrics and lineage must be JSON objects");
  if (lineage.contains("parent") && !lineage["parent"].is_null() &&
      !lineage["parent"].is_number_unsigned())
    return make_llmos_error(error_code::bad_params,
                            "publishing '" + name +
                                "': lineage.parent must be a version number or null");
  return {};
}

caf::expected<void> ensure_model_dir(const fs::path& root, const fs::path& model_dir) {
  std::error_code ec;
  if (fs::create_directory(model_dir, ec))
    return fsync_directory(root);
  if (ec)
    return fs_error("create the model folder", model_dir, ec);
  return {};
}

/// The counter alone would do, but taking the maximum with the folders also survives a
/// next_version that was lost or copied from elsewhere.
caf::expected<uint32_t> next_version_number(const std::string& name, const fs::path& model_dir) {
  auto existing = list_version_numbers(model_dir);
  if (!existing)
    return existing.error();
  auto counter = read_next_version(model_dir);
  if (!counter)
    return counter.error();
  const uint64_t next =
      std::max<uint64_t>({*counter, existing->empty() ? 1 : uint64_t{existing->back()} + 1, 1});
  if (next > UINT32_MAX)
    return make_llmos_error(error_code::bad_params,
                            "model '" + name + "' has used up all version numbers");
  return static_cast<uint32_t>(next);
}

/// The version's files, synced, into the temporary folder; meta.json last: its presence in a
/// temporary means nothing, only the rename publishes.
caf::expected<void> write_version(const fs::path& dir, const version_files& files,
                                  const version_meta& meta) {
  for (const auto& [file, bytes] :
       {std::pair{weights_file_name, std::string_view{files.weights}},
        std::pair{tokenizer_file_name, std::string_view{files.tokenizer}},
        std::pair{spec_file_name, std::string_view{files.spec}}})
    if (auto ok = write_file_synced(dir / file, bytes); !ok)
      return ok.error();
  if (auto ok = write_file_synced(dir / meta_file_name, to_json(meta).dump(2) + "\n"); !ok)
    return ok.error();
  return fsync_directory(dir);
}

} // namespace

caf::expected<version_meta> registry_store::publish(const std::string& name,
                                                    const version_files& files,
                                                    nlohmann::json metrics,
                                                    nlohmann::json lineage) {
  if (auto err = check_publishable(name, metrics, lineage))
    return err;
  const auto model_dir = root_ / name;
  if (auto ok = ensure_model_dir(root_, model_dir); !ok)
    return ok.error();
  auto next = next_version_number(name, model_dir);
  if (!next)
    return next.error();
  version_meta meta;
  meta.name = name;
  meta.version = *next;
  meta.created = utc_now_iso8601();
  meta.metrics = std::move(metrics);
  meta.lineage = std::move(lineage);
  meta.weights_bytes = files.weights.size();
  meta.weights_xxh3 = xxh3_hex(files.weights);
  meta.tokenizer_xxh3 = xxh3_hex(files.tokenizer);
  meta.spec_xxh3 = xxh3_hex(files.spec);
  const auto incoming = temporary_path(model_dir, incoming_prefix);
  std::error_code ec;
  if (!fs::create_directory(incoming, ec))
    return fs_error("create", incoming, ec);
  remove_on_failure cleanup{incoming};
  if (auto ok = write_version(incoming, files, meta); !ok)
    return ok.error();
  // The counter moves before the version appears: a crash in between skips a number, whereas
  // the other order could leave the counter behind a version that a later remove() frees.
  if (auto ok = write_next_version(model_dir, uint64_t{*next} + 1); !ok)
    return ok.error();
  if (auto ok = rename_no_replace(incoming, model_dir / version_dir_name(meta.version)); !ok)
    return ok.error();
  cleanup.path.clear();
  if (auto ok = fsync_directory(model_dir); !ok)
    return ok.error();
  return meta;
}

std::vector<std::string> registry_store::models() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it{root_, ec}, end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!is_valid_name(name) || !it->is_directory())
      continue;
    if (auto numbers = list_version_numbers(it->path()); numbers && !numbers->empty())
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

caf::expected<std::vector<version_meta>> registry_store::versions(const std::string& name) const {
  auto model_dir = existing_model_dir(name);
  if (!model_dir)
    return model_dir.error();
  auto numbers = list_version_numbers(*model_dir);
  if (!numbers)
    return numbers.error();
  std::vector<version_meta> out;
  for (auto v : *numbers) {
    auto m = meta(name, v);
    if (!m)
      return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

caf::expected<version_meta> registry_store::meta(const std::string& name, uint32_t version) const {
  auto dir = existing_version_dir(name, version);
  if (!dir)
    return dir.error();
  const auto file = *dir / meta_file_name;
  auto text = read_whole_file(file);
  if (!text)
    return text.error();
  auto m = parse_version_meta(*text, file);
  if (!m)
    return m.error();
  // A folder copied or renamed by hand would otherwise answer for a version it is not.
  if (m->name != name || m->version != version)
    return make_llmos_error(error_code::bad_config,
                            "'" + file.string() + "' describes " + m->name + " v" +
                                std::to_string(m->version) + ", not " + name + " v" +
                                std::to_string(version) + "; restore the folder's own meta.json");
  return m;
}

caf::expected<version_files> registry_store::files(const std::string& name,
                                                   uint32_t version) const {
  auto m = meta(name, version);
  if (!m)
    return m.error();
  const auto dir = version_dir(name, version);
  version_files out;
  auto weights = read_verified(dir / weights_file_name, m->weights_xxh3, version);
  if (!weights)
    return weights.error();
  auto tokenizer = read_verified(dir / tokenizer_file_name, m->tokenizer_xxh3, version);
  if (!tokenizer)
    return tokenizer.error();
  auto spec = read_verified(dir / spec_file_name, m->spec_xxh3, version);
  if (!spec)
    return spec.error();
  out.weights = std::move(*weights);
  out.tokenizer = std::move(*tokenizer);
  out.spec = std::move(*spec);
  return out;
}

caf::expected<void> registry_store::remove(const std::string& name, uint32_t version) {
  auto model = holding(name, version);
  if (!model)
    return model.error();
  const auto& model_dir = model->dir;
  std::vector<std::string> pointing;
  for (const auto& [alias, target] : model->aliases)
    if (target == version)
      pointing.push_back(alias);
  if (!pointing.empty())
    return make_llmos_error(error_code::bad_params,
                            "version " + std::to_string(version) + " of model '" + name +
                                "' is still aliased as " + quoted_names(pointing) +
                                ": move or remove the alias first");
  // Guarantees the number is never handed out again, even with a next_version lost or stale.
  auto counter = read_next_version(model_dir);
  if (!counter)
    return counter.error();
  if (*counter <= version)
    if (auto ok = write_next_version(model_dir, uint64_t{version} + 1); !ok)
      return ok;
  // Rename first so that a crash mid-delete leaves a hidden temporary (swept by open()), never
  // a version folder with some of its files gone.
  const auto doomed = temporary_path(model_dir, removing_prefix, "-" + version_dir_name(version));
  if (auto ok = rename_no_replace(model_dir / version_dir_name(version), doomed); !ok)
    return ok;
  if (auto ok = fsync_directory(model_dir); !ok)
    return ok;
  // The version is gone already; a folder that will not delete now is swept by the next open().
  std::error_code ignored;
  fs::remove_all(doomed, ignored);
  return {};
}

fs::path registry_store::version_dir(const std::string& name, uint32_t version) const {
  return root_ / name / version_dir_name(version);
}

caf::expected<fs::path> registry_store::existing_model_dir(const std::string& name) const {
  if (auto ok = check_model_name(name); !ok)
    return ok.error();
  auto dir = root_ / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return make_llmos_error(error_code::not_found,
                            "model '" + name + "' is not in the registry '" + root_.string() + "'");
  return dir;
}

caf::expected<fs::path> registry_store::existing_version_dir(const std::string& name,
                                                             uint32_t version) const {
  auto model_dir = existing_model_dir(name);
  if (!model_dir)
    return model_dir.error();
  auto dir = *model_dir / version_dir_name(version);
  std::error_code ec;
  if (version == 0 || !fs::is_directory(dir, ec))
    return make_llmos_error(error_code::not_found,
                            "model '" + name + "' has no version " + std::to_string(version));
  return dir;
}

} // namespace llmos::registry
