// Which server actors serve which registry model, kept from the directory's entries of kind
// "server" (config key `model`), and which one gets the next request: the least outstanding
// requests, across nodes. Thread-safe: HTTP worker threads pick, the gateway actor updates.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "llmos/messages/directory.hpp"
#include "llmos/messages/serving.hpp"
#include "serving/core/router.hpp"

namespace llmos::http {

class server_table {
public:
  struct choice {
    server_actor server;
    std::size_t slot = 0;
  };

  /// Replaces the table with the server entries among `entries`.
  void update(const std::vector<actor_entry>& entries);

  /// A server of `model` not in `tried` (slots), least loaded first; nullopt when none. A model
  /// served as adapters (server key `adapters`) goes to a server of its base that lists it.
  std::optional<choice> pick(const std::string& model, const std::vector<std::size_t>& tried = {});

  /// The base model a model is served over as adapters; "" when it is not.
  std::string base_of(const std::string& model) const;

  /// The request sent with `pick`'s choice finished.
  void done(const std::string& model, std::size_t slot);

  /// Model -> its servers' handles.
  std::map<std::string, std::vector<server_actor>> servers() const;

private:
  struct model_servers {
    serving::replica_router router;
    std::map<std::size_t, actor_entry> by_slot;
  };
  struct adapter_servers {
    std::string base;
    std::vector<caf::actor> handles; ///< servers of the base that list the adapter
  };
  /// The servers of `model`, or of its base when it is an adapter (then `only` lists those
  /// serving it); null when none.
  model_servers* find(const std::string& model, const std::vector<caf::actor>** only);

  mutable std::mutex mutex_;
  std::map<std::string, model_servers> models_;
  std::map<std::string, adapter_servers> adapters_;
};

} // namespace llmos::http
