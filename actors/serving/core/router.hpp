// Choosing the replica of a model that gets the next batch. Two policies: least outstanding
// (exact, needs every replica's count) and power of two choices (two random replicas, the less
// loaded wins: nearly as even, and it does not herd every request onto the one replica that
// looked idle a moment ago when counts lag). The router only keeps counts the caller reports
// with sent/done; it sends nothing itself, so it is a pure function of those counts and a seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::serving {

/// How replica_router picks among active replicas.
enum class routing_policy : uint8_t {
  least_outstanding, ///< the replica with the fewest outstanding requests
  power_of_two,      ///< the less loaded of two distinct replicas drawn at random
};

/// "least_outstanding" or "power_of_two"; other words are refused (bad_config) with a
/// did-you-mean.
caf::expected<routing_policy> parse_routing_policy(const std::string& text);

/// The policy's name as parse_routing_policy reads it.
std::string to_string(routing_policy policy);

/// Outstanding-request counts per replica slot and the policy that picks among them.
class replica_router {
public:
  /// A router with no replicas; `seed` makes power_of_two's draws repeatable.
  explicit replica_router(routing_policy policy = routing_policy::least_outstanding,
                          uint64_t seed = 1);

  /// A new active replica; the slot id is never reused, so a late done() for a removed replica
  /// cannot land on a new one.
  std::size_t add();

  /// Stops routing to `id`; its outstanding requests still complete (watch idle()).
  void drain(std::size_t id);

  /// Forgets `id` (it stopped or was lost); later calls for it are ignored.
  void remove(std::size_t id);

  /// The replica for the next batch; nullopt when no replica is active.
  std::optional<std::size_t> pick();

  /// `n` requests were sent to `id`.
  void sent(std::size_t id, uint32_t n = 1);

  /// `n` requests of `id` completed (or failed); the count never goes below 0.
  void done(std::size_t id, uint32_t n = 1);

  /// Requests sent to `id` and not yet done (0 for unknown ids).
  uint32_t outstanding(std::size_t id) const;

  /// True when `id` has nothing outstanding (a drained replica can then be stopped).
  bool idle(std::size_t id) const { return outstanding(id) == 0; }

  /// Slot ids that pick() may return, in increasing order.
  std::vector<std::size_t> active() const;

  /// The policy in use.
  routing_policy policy() const { return policy_; }

private:
  enum class slot_state : uint8_t { active, draining, removed };

  struct slot {
    slot_state state = slot_state::active;
    uint32_t outstanding = 0;
  };

  slot* find(std::size_t id);

  routing_policy policy_;
  std::mt19937_64 rng_;
  std::vector<slot> slots_;
  std::size_t next_tie_ = 0; ///< where least_outstanding starts looking, to rotate ties
};

} // namespace llmos::serving
