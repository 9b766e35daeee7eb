// The store's aliases (registry_store.hpp): references resolved to versions ("3", "v3", "latest"
// or an alias), aliases set and removed. An alias map lives in its model's folder
// (model_folder.hpp); a version an alias points at cannot be removed (registry_store.cpp).
#include "registry/core/registry_store.hpp"

#include "llmos/messages/error.hpp"
#include "registry/core/model_folder.hpp"
#include "registry/core/registry_names.hpp"

namespace llmos::registry {

caf::expected<uint32_t> registry_store::resolve(const std::string& name,
                                                const std::string& ref) const {
  auto model_dir = existing_model_dir(name);
  if (!model_dir)
    return model_dir.error();
  if (ref == latest_ref) {
    auto numbers = list_version_numbers(*model_dir);
    if (!numbers)
      return numbers.error();
    if (numbers->empty())
      return make_llmos_error(error_code::not_found,
                              "model '" + name + "' has no versions, so 'latest' means none");
    return numbers->back();
  }
  auto number = parse_version_ref(ref);
  if (!number)
    return number.error();
  if (*number) {
    if (auto dir = existing_version_dir(name, **number); !dir)
      return dir.error();
    return **number;
  }
  if (!is_valid_name(ref))
    return make_llmos_error(error_code::bad_params,
                            "reference '" + ref + "' to model '" + name +
                                "' is invalid: use a version ('3' or 'v3'), 'latest' or an alias");
  auto map = read_aliases(*model_dir);
  if (!map)
    return map.error();
  if (auto it = map->find(ref); it != map->end())
    return it->second;
  std::vector<std::string> known;
  for (const auto& entry : *map)
    known.push_back(entry.first);
  return make_llmos_error(error_code::not_found,
                          "model '" + name + "' has no alias '" + ref + "' (aliases: " +
                              (known.empty() ? "none" : quoted_names(known)) + ")");
}

caf::expected<void> registry_store::set_alias(const std::string& name, const std::string& alias,
                                              uint32_t version) {
  if (auto ok = check_alias_name(alias); !ok)
    return ok;
  auto model = holding(name, version);
  if (!model)
    return model.error();
  model->aliases[alias] = version;
  return write_aliases(model->dir, model->aliases);
}

caf::expected<void> registry_store::remove_alias(const std::string& name,
                                                 const std::string& alias) {
  if (!is_valid_name(alias))
    return check_alias_name(alias);
  auto model_dir = existing_model_dir(name);
  if (!model_dir)
    return model_dir.error();
  auto map = read_aliases(*model_dir);
  if (!map)
    return map.error();
  if (map->erase(alias) == 0)
    return make_llmos_error(error_code::not_found,
                            "model '" + name + "' has no alias '" + alias + "' to remove");
  return write_aliases(*model_dir, *map);
}

caf::expected<std::map<std::string, uint32_t>>
registry_store::aliases(const std::string& name) const {
  auto model_dir = existing_model_dir(name);
  if (!model_dir)
    return model_dir.error();
  return read_aliases(*model_dir);
}

caf::expected<registry_store::model_with_aliases> registry_store::holding(const std::string& name,
                                                                          uint32_t version) const {
  auto dir = existing_version_dir(name, version);
  if (!dir)
    return dir.error();
  auto aliases = read_aliases(dir->parent_path());
  if (!aliases)
    return aliases.error();
  return model_with_aliases{dir->parent_path(), std::move(*aliases)};
}

} // namespace llmos::registry
