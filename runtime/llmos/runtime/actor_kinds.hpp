// The table of actor kinds a node can spawn by name ("device", later "dataset", "model", ...),
// each with the schema of its config. The topology parser refuses unknown kinds and bad configs
// through it before anything starts; node managers spawn through it at run time. Later
// components extend the table by calling add().
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

namespace llmos {

/// Type of a config value; values travel as strings and are checked against this.
/// path: a file name; a topology file resolves relative ones against its own folder.
enum class config_type { string, integer, boolean, number, path };

/// One key an actor kind accepts in its config.
struct config_field {
  std::string key;
  config_type type = config_type::string;
  std::string default_value; ///< "" and required=false: optional without default
  bool required = false;
  std::string help;
  std::vector<std::string> choices; ///< non-empty: the value must be one of these
};

/// A key the config must give.
inline config_field required_key(std::string key, config_type type, std::string help) {
  return {std::move(key), type, "", true, std::move(help), {}};
}

/// A key the config may leave out: it then reads `default_value` ("" = no value).
inline config_field optional_key(std::string key, config_type type, std::string default_value,
                                 std::string help, std::vector<std::string> choices = {}) {
  return {std::move(key),    type, std::move(default_value), false, std::move(help),
          std::move(choices)};
}

/// What a spawner gets: the actor system, the node it runs on and the checked config.
struct spawn_context {
  caf::actor_system& system;
  std::string node;
  std::string name;
  std::map<std::string, std::string> config; ///< defaults filled in
  /// The spawning node manager (answers (get_atom, directory_atom)), so actors that name other
  /// actors in their config can resolve them; null in unit tests that spawn directly.
  caf::actor manager = {};
  /// The actor of kind `kind` this node hosts under `name`, or a null handle: synchronous, for
  /// kinds placed on another local actor (a model on a device). Null in unit tests.
  std::function<caf::actor(const std::string& name, const std::string& kind)> find_local = {};
};

/// `a`'s fields followed by `b`'s (a kind's own keys and a shared group such as decoding's).
inline std::vector<config_field> joined(std::vector<config_field> a,
                                        const std::vector<config_field>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// The integer config value `key` (validated as an integer) within [lo, hi]; bad_config naming
/// the key, the bounds and the value otherwise.
caf::expected<long long> config_integer(const std::map<std::string, std::string>& config,
                                        const std::string& key, long long lo, long long hi);

/// One kind of actor.
struct actor_kind {
  std::string name;
  std::string help;
  std::vector<config_field> fields;
  std::function<caf::expected<caf::actor>(spawn_context&)> spawn;
};

/// Name -> kind. Not thread-safe: filled at start-up, read afterwards.
class actor_kind_table {
public:
  /// Registers a kind; a second kind with the same name replaces the first.
  void add(actor_kind kind);

  /// The kind called `name`, or nullptr.
  const actor_kind* find(const std::string& name) const;

  /// Names of all kinds, sorted.
  std::vector<std::string> names() const;

  /// Checks `config` against the schema of `kind`: unknown keys (with the closest known key as
  /// a suggestion), wrong types, values outside `choices`, missing required keys. On success
  /// returns the config with defaults filled in. Error messages start with the key.
  caf::expected<std::map<std::string, std::string>>
  validate(const std::string& kind, const std::map<std::string, std::string>& config) const;

private:
  std::map<std::string, actor_kind> kinds_;
};

} // namespace llmos
