// For the tests that run actors on real threads (the conversations that block on workers, and
// the kinds' spawn paths): the actor system's config, and the actors a test spawned told to exit
// when it ends.
#pragma once

#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "llmos/messages/register.hpp"

namespace llmos::test {

/// llmos's messages registered and two scheduler threads (this machine has two cores).
struct threaded_config : caf::actor_system_config {
  threaded_config() {
    register_messages(*this);
    set("scheduler.max-threads", 2);
  }
};

/// Actors that are sent an exit (user_shutdown) when this goes; declare it after the actor
/// system, so that it goes first.
class exit_at_end {
public:
  exit_at_end() = default;
  exit_at_end(const exit_at_end&) = delete;
  exit_at_end& operator=(const exit_at_end&) = delete;
  ~exit_at_end() {
    for (auto& a : actors_)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  void push_back(caf::actor a) { actors_.push_back(std::move(a)); }

private:
  std::vector<caf::actor> actors_;
};

} // namespace llmos::test
