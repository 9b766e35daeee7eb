// The model registry's versioned on-disk store: every published model version is a folder
// <root>/<name>/v<N>/ holding weights.pt, tokenizer.bin, spec.yaml and meta.json, beside the
// model's aliases.json (alias -> version) and next_version (the counter that keeps numbers from
// ever being reused). Every change is made visible by one rename after fsync, so a kill -9 at
// any point leaves either no new version or a complete one, and an alias file that is either old
// or new; the hidden temporaries a crash leaves are swept by open(). Plain class (no actors, no
// torch): the registry actor owns one and is the only writer of its root; other processes may
// open the same root to read, as open() leaves the temporaries of live processes alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "registry/core/version_meta.hpp"

namespace llmos::registry {

/// A folder of models, each a series of numbered immutable versions and a map of aliases.
/// Errors: bad_params (invalid name or reference), not_found (unknown model, version or alias),
/// io_failed (filesystem, with path and reason), bad_config (corrupt file, named).
class registry_store {
public:
  /// Opens (creating) the store at `root` and removes the temporaries of crashed publishes and
  /// removals; complete versions are never touched.
  static caf::expected<registry_store> open(std::filesystem::path root);

  /// Publishes `files` as the next version of `name` (created on first publish): one more than
  /// any number the model ever used. `metrics` and `lineage` must be JSON objects (or null).
  caf::expected<version_meta> publish(const std::string& name, const version_files& files,
                                      nlohmann::json metrics, nlohmann::json lineage);

  /// The models with at least one version, sorted by name.
  std::vector<std::string> models() const;

  /// The versions of `name`, oldest first (empty when all were removed).
  caf::expected<std::vector<version_meta>> versions(const std::string& name) const;

  /// The record of one version.
  caf::expected<version_meta> meta(const std::string& name, uint32_t version) const;

  /// The files of one version, verified against the checksums in its meta.json.
  caf::expected<version_files> files(const std::string& name, uint32_t version) const;

  /// The version that `ref` ("3", "v3", "latest" or an alias) denotes, checked to exist.
  caf::expected<uint32_t> resolve(const std::string& name, const std::string& ref) const;

  /// Points `alias` at an existing `version`, creating or moving it (atomic file replace).
  caf::expected<void> set_alias(const std::string& name, const std::string& alias,
                                uint32_t version);

  /// Deletes `alias`; not_found when the model has no such alias.
  caf::expected<void> remove_alias(const std::string& name, const std::string& alias);

  /// The aliases of `name` and the versions they point at.
  caf::expected<std::map<std::string, uint32_t>> aliases(const std::string& name) const;

  /// Deletes one version; refused (bad_params, naming the aliases) while an alias points at it.
  caf::expected<void> remove(const std::string& name, uint32_t version);

  /// The folder of a version (whether or not it exists).
  std::filesystem::path version_dir(const std::string& name, uint32_t version) const;

  /// The folder the store lives in.
  const std::filesystem::path& root() const { return root_; }

private:
  explicit registry_store(std::filesystem::path root) : root_(std::move(root)) {}

  caf::expected<std::filesystem::path> existing_model_dir(const std::string& name) const;
  caf::expected<std::filesystem::path> existing_version_dir(const std::string& name,
                                                            uint32_t version) const;

  /// The folder of model `name`, which must hold `version`, and the model's aliases.
  struct model_with_aliases {
    std::filesystem::path dir;
    std::map<std::string, uint32_t> aliases;
  };
  caf::expected<model_with_aliases> holding(const std::string& name, uint32_t version) const;

  std::filesystem::path root_;
};

} // namespace llmos::registry
