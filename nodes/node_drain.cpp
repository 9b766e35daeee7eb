// node::drain: refuse new requests, let those in flight finish, stop the actors in dependency
// order. The order matters because actors hand work to each other: a gateway must not pass a
// request to a server that is already gone, a server flushes its request log to the feedback
// analyst, an analyst or scheduler may still be talking to models, and models read data sets and
// run on devices. Stopping them all at once (the node manager's links) made each one's last
// messages race with the others' exits.
#include <algorithm>

#include <caf/scoped_actor.hpp>

#include "llmos/messages/feedback.hpp"
#include "llmos/node/node.hpp"
#include "llmos/runtime/drain.hpp"
#include "llmos/runtime/log.hpp"

namespace llmos {
namespace {

/// Kinds in stop order; kinds not listed (and the node manager, the directory) stop last, with
/// the actor system.
const std::vector<std::vector<std::string>>& stop_order() {
  static const std::vector<std::vector<std::string>> order{
      {"http", "gateway"},   {"server"},  {"feedback", "tuner", "scheduler"}, {"model"},
      {"dataset", "device"}, {"registry"}};
  return order;
}

using clock = std::chrono::steady_clock;

/// What is left of the grace period for the next group, and at least 200 ms: a group that
/// stops promptly is still waited for (and stopped in order) after the grace period ran out.
std::chrono::milliseconds left_until(clock::time_point until) {
  return std::max(std::chrono::milliseconds(200),
                  std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()));
}

/// Stops this node's actors of one group of kinds and waits for them; how many did not stop in
/// time.
std::size_t stop_group(caf::scoped_actor& self, const std::vector<actor_entry>& local,
                       const std::vector<std::string>& group, clock::time_point until) {
  std::size_t waiting = 0;
  for (const auto& e : local) {
    if (std::find(group.begin(), group.end(), e.kind) == group.end() || !e.handle)
      continue;
    // An exit overtakes queued messages (CAF delivers it first): an analyst is asked its status
    // before, which it answers after the request records servers sent it have been written
    // (its log is fsynced as it closes).
    if (e.kind == "feedback")
      self->request(e.handle, left_until(until), status_atom::value)
          .receive([](std::string&) {}, [](caf::error&) {});
    self->monitor(e.handle);
    self->send_exit(e.handle, caf::exit_reason::user_shutdown);
    ++waiting;
  }
  bool late = false;
  while (waiting > 0 && !late)
    self->receive([&](caf::down_msg&) { --waiting; },
                  caf::after(left_until(until)) >> [&] { late = true; });
  return waiting;
}

} // namespace

std::vector<actor_entry> node::local_actors(caf::scoped_actor& self) {
  std::vector<actor_entry> local;
  self->request(manager_, std::chrono::seconds(2), actors_atom::value, name_)
      .receive([&](std::vector<actor_entry>& xs) { local = std::move(xs); },
               [&](caf::error& err) {
                 log_warning("node '" + name_ + "': cannot list its actors to stop them in " +
                             "order (" + system_->render(err) + "); stopping them all at once");
               });
  return local;
}

bool node::drain(std::chrono::milliseconds grace) {
  if (!system_)
    return true;
  const auto until = clock::now() + grace;
  drain::begin();
  log_info("node '" + name_ + "' draining: new requests are refused, " +
           std::to_string(drain::in_flight()) + " in flight");
  // This node's actors, from the directory (those the topology started and those spawned
  // later), listed first: the grace period may be spent by the time they are stopped.
  caf::scoped_actor self{*system_};
  const auto local = local_actors(self);
  bool ok = drain::wait_idle(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max(clock::duration::zero(), until - clock::now())));
  auto order = stop_order();
  if (!ok) {
    log_warning("node '" + name_ + "': " + std::to_string(drain::in_flight()) +
                " request(s) still in flight after the grace period of " +
                std::to_string(grace.count()) + " ms");
    // Servers go first then: they answer what they hold `unavailable`, so that the gateways'
    // handlers waiting for them end, and the gateways can stop.
    std::rotate(order.begin(), order.begin() + 1, order.begin() + 2);
  }
  for (const auto& group : order) {
    if (const auto late = stop_group(self, local, group, until); late > 0) {
      log_warning("node '" + name_ + "': " + std::to_string(late) + " " + group.front() +
                  " actor(s) did not stop within the grace period");
      ok = false;
    }
  }
  return ok;
}

} // namespace llmos
