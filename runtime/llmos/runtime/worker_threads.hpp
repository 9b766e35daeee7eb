// Workers that block for as long as they compute (device actors, the registry's import and
// export workers) get threads of their own, so that the scheduler's threads keep serving the
// other actors. An actor system configured with `llmos.workers = "inline"` runs them on its
// scheduler like any actor instead: the deterministic tests set it, whose scheduler (CAF's
// testing policy) runs every message on the test's thread in an order the test chooses, which a
// thread of a worker's own would escape.
#pragma once

#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>

namespace llmos {

/// False when the system's config says `llmos.workers = "inline"`.
inline bool own_worker_threads(const caf::actor_system& system) {
  return caf::get_or(system.config(), "llmos.workers", "threads") != "inline";
}

/// Spawns a worker: detached, unless the system runs workers inline.
template <class F, class... Ts> auto spawn_worker(caf::actor_system& system, F fn, Ts&&... xs) {
  if (own_worker_threads(system))
    return system.spawn<caf::detached>(std::move(fn), std::forward<Ts>(xs)...);
  return system.spawn(std::move(fn), std::forward<Ts>(xs)...);
}

/// Runs `work()` once on a worker (see spawn_worker), which ends with it; `work` reports back by
/// sending a message.
template <class F> void run_on_worker(caf::actor_system& system, F work) {
  spawn_worker(system, [work = std::move(work)](caf::event_based_actor*) mutable { work(); });
}

} // namespace llmos
