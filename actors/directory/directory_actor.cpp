#include "directory/directory_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "directory/name_table.hpp"
#include "llmos/messages/error.hpp"

namespace llmos {
namespace {

struct directory_state {
  name_table table;
  std::vector<caf::actor> watchers;
  static inline const char* name = "llmos.directory";
};

using directory_self = directory_actor::stateful_pointer<directory_state>;

void notify(directory_self self, bool added, const actor_entry& entry, const std::string& why) {
  for (const auto& w : self->state.watchers)
    caf::anon_send(w, dir_event_atom::value, directory_event{added, entry, why});
}

directory_actor::behavior_type directory_behavior(directory_self self) {
  self->set_down_handler([=](const caf::down_msg& msg) {
    // Either a registered actor or a watcher went down; both are cleaned up here.
    auto& ws = self->state.watchers;
    ws.erase(std::remove_if(ws.begin(), ws.end(),
                            [&](const caf::actor& w) { return w.address() == msg.source; }),
             ws.end());
    const auto why = msg.reason == caf::exit_reason::remote_link_unreachable
                         ? std::string{"node lost"}
                         : "down: " + caf::to_string(msg.reason);
    for (auto& entry : self->state.table.remove_address(msg.source))
      notify(self, false, entry, why);
  });
  return {
      [=](register_atom, actor_entry& entry) -> caf::result<bool> {
        if (!entry.handle)
          return make_llmos_error(error_code::bad_params,
                                  "cannot register '" + entry.name + "' without an actor handle");
        auto handle = entry.handle;
        auto copy = entry;
        if (auto err = self->state.table.add(std::move(entry)))
          return err;
        self->monitor(handle);
        notify(self, true, copy, "registered");
        return true;
      },
      [=](unregister_atom, const std::string& name) -> caf::result<bool> {
        auto removed = self->state.table.remove(name);
        if (!removed)
          return false;
        notify(self, false, *removed, "stopped");
        return true;
      },
      [=](lookup_atom, const std::string& name) -> caf::result<actor_entry> {
        auto found = self->state.table.find(name);
        if (!found)
          return std::move(found.error());
        return std::move(*found);
      },
      [=](actors_atom, const std::string& node) -> std::vector<actor_entry> {
        return self->state.table.list(node);
      },
      [=](watch_atom, caf::actor& watcher) {
        self->monitor(watcher);
        self->state.watchers.push_back(std::move(watcher));
      },
  };
}

} // namespace

directory_actor spawn_directory(caf::actor_system& sys) {
  return sys.spawn(directory_behavior);
}

} // namespace llmos
