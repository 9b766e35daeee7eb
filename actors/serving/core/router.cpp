#include "serving/core/router.hpp"

#include <algorithm>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"

namespace llmos::serving {

namespace {

const std::vector<std::string> policy_names{"least_outstanding", "power_of_two"};

} // namespace

caf::expected<routing_policy> parse_routing_policy(const std::string& text) {
  if (text == "least_outstanding")
    return routing_policy::least_outstanding;
  if (text == "power_of_two")
    return routing_policy::power_of_two;
  return make_llmos_error(error_code::bad_config, "routing policy: '" + text +
                                                      "' is not a policy; " +
                                                      did_you_mean(text, policy_names) +
                                                      "(known: " + join_words(policy_names) + ")");
}

std::string to_string(routing_policy policy) {
  return policy == routing_policy::power_of_two ? "power_of_two" : "least_outstanding";
}

replica_router::replica_router(routing_policy policy, uint64_t seed)
    : policy_(policy), rng_(seed) {}

replica_router::slot* replica_router::find(std::size_t id) {
  if (id >= slots_.size() || slots_[id].state == slot_state::removed)
    return nullptr;
  return &slots_[id];
}

std::size_t replica_router::add() {
  slots_.push_back(slot{});
  return slots_.size() - 1;
}

void replica_router::drain(std::size_t id) {
  if (auto* s = find(id))
    s->state = slot_state::draining;
}

void replica_router::remove(std::size_t id) {
  if (auto* s = find(id))
    *s = slot{slot_state::removed, 0};
}

std::vector<std::size_t> replica_router::active() const {
  std::vector<std::size_t> ids;
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].state == slot_state::active)
      ids.push_back(i);
  return ids;
}

std::optional<std::size_t> replica_router::pick() {
  const auto ids = active();
  if (ids.empty())
    return std::nullopt;
  if (ids.size() == 1)
    return ids.front();
  if (policy_ == routing_policy::power_of_two) {
    // Two distinct candidates: draw the second from the n-1 others.
    std::uniform_int_distribution<std::size_t> first(0, ids.size() - 1);
    std::uniform_int_distribution<std::size_t> second(0, ids.size() - 2);
    const auto i = first(rng_);
    auto j = second(rng_);
    if (j >= i)
      ++j;
    return slots_[ids[j]].outstanding < slots_[ids[i]].outstanding ? ids[j] : ids[i];
  }
  // Start the scan at a rotating offset so that equally loaded replicas take turns even when
  // the caller picks several times before reporting sent().
  const auto start = next_tie_++ % ids.size();
  auto best = ids[start];
  for (std::size_t k = 1; k < ids.size(); ++k) {
    const auto id = ids[(start + k) % ids.size()];
    if (slots_[id].outstanding < slots_[best].outstanding)
      best = id;
  }
  return best;
}

void replica_router::sent(std::size_t id, uint32_t n) {
  if (auto* s = find(id))
    s->outstanding += n;
}

void replica_router::done(std::size_t id, uint32_t n) {
  // Saturate: a reply counted twice (a retry racing its original) must not wrap to 4 billion
  // and shut the replica out of routing.
  if (auto* s = find(id))
    s->outstanding -= std::min(s->outstanding, n);
}

uint32_t replica_router::outstanding(std::size_t id) const {
  return id < slots_.size() ? slots_[id].outstanding : 0;
}

} // namespace llmos::serving
