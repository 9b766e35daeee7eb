// Lower CPU priority for the RPC port's threads than for the node's own (llmos-node --rpc-nice,
// nodes/node.cpp): under contention the node's actors come first. Measured by `llmos-bench
// hardening --rpc-nice N` (docs/rpc.md, "Flooding clients").
#pragma once

#include <caf/thread_hook.hpp>

namespace llmos {

/// A CAF thread hook that raises each new thread's nice value by `increment` (Linux: nice is
/// per thread). Only ever lowers priority, which needs no privilege; 0 leaves threads alone.
class nice_threads final : public caf::thread_hook {
public:
  explicit nice_threads(int increment) : increment_(increment) {}

  void init(caf::actor_system&) override {}
  void thread_started() override;
  void thread_terminates() override {}

private:
  int increment_;
};

/// The calling thread's nice value (for tests and logs).
int current_thread_nice();

} // namespace llmos
