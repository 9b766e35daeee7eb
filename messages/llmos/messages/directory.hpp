// The directory conversation: cluster-wide actor names -> actor handles. One directory actor,
// hosted on the seed node, holds every registration; node managers register the actors they
// spawn and the gateway resolves names through it. Entries of a lost node are dropped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/field.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// One named actor of the cluster.
struct actor_entry {
  std::string name;                          ///< cluster-wide unique name, e.g. "cpu0"
  std::string kind;                          ///< actor kind, e.g. "device", "node_manager"
  std::string node;                          ///< node that hosts it
  std::map<std::string, std::string> config; ///< the config it was spawned with
  caf::actor handle;                         ///< where to send messages
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, actor_entry& x) {
  return f(caf::meta::type_name("actor_entry"), field("name"), x.name, field("kind"), x.kind,
           field("node"), x.node, field("config"), x.config, x.handle);
}

/// A change of the directory, sent to watchers as (dir_event_atom, directory_event).
struct directory_event {
  bool added = false; ///< true: registered; false: removed
  actor_entry entry;
  std::string reason; ///< why it was removed ("stopped", "node lost", ...)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, directory_event& x) {
  return f(caf::meta::type_name("directory_event"), field("added"), x.added, field("entry"),
           x.entry, field("reason"), x.reason);
}

/// The directory's typed interface.
using directory_actor = caf::typed_actor<
    // node manager -> directory: add an entry; fails with duplicate_name if the name is taken
    // by a live actor. The directory monitors the handle and drops the entry when it goes down.
    caf::replies_to<register_atom, actor_entry>::with<bool>,
    // node manager -> directory: remove an entry by name; false if it was not there.
    caf::replies_to<unregister_atom, std::string>::with<bool>,
    // anyone -> directory: resolve a name; fails with no_such_actor.
    caf::replies_to<lookup_atom, std::string>::with<actor_entry>,
    // anyone -> directory: list entries, all of them or those of one node ("" = all).
    caf::replies_to<actors_atom, std::string>::with<std::vector<actor_entry>>,
    // anyone -> directory: send (dir_event_atom, directory_event) to this actor on every change.
    caf::reacts_to<watch_atom, caf::actor>>;

} // namespace llmos
