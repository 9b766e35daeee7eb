// Finding a named actor from inside another actor: this node's manager answers the directory,
// the directory the entry. A template over the asking actor, so typed and untyped actors (the
// server, the scheduler, the tuner) share one chain of requests.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/error.hpp>

#include "llmos/messages/directory.hpp"
#include "llmos/messages/node_manager.hpp"

namespace llmos {

/// Looks `name` up and calls `then` with its handle, or `fail` with the manager's or the
/// directory's error (no_such_actor for an unknown name).
template <class Self>
void find_actor(Self* self, const caf::actor& manager, const std::string& name,
                std::function<void(caf::actor)> then, std::function<void(caf::error)> fail,
                std::chrono::seconds timeout = std::chrono::seconds(30)) {
  self->request(caf::actor_cast<node_manager_actor>(manager), timeout, get_atom::value,
                directory_atom::value)
      .then(
          [self, name, then, fail, timeout](directory_actor& dir) {
            self->request(dir, timeout, lookup_atom::value, name)
                .then([then](actor_entry& e) { then(e.handle); },
                      [fail](caf::error& err) { fail(err); });
          },
          [fail](caf::error& err) { fail(err); });
}

} // namespace llmos
