// A GoogleTest fixture around an actor system with CAF's `testing` scheduler: nothing runs until
// the test calls run(), and then one message at a time on the test's thread, so conversations
// are checked step by step and without sleeps. ask() sends one request from a throw-away
// event-based client (a blocking scoped_actor would wait forever: nobody else runs the
// scheduler) and returns the reply or the error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/settings.hpp>
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"

namespace llmos::test {

class deterministic_fixture : public ::testing::Test {
protected:
  deterministic_fixture()
      : sys_(configure(cfg_)),
        sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())) {}

  /// Stops what stop_at_end() collected, in that order, so that the system can shut down.
  void TearDown() override {
    for (auto& handle : to_stop_) {
      caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
      run();
    }
    to_stop_.clear();
    run();
  }

  /// Runs every queued message (and whatever they cause) to completion.
  std::size_t run() { return sched_.run(); }

  /// `handle` is stopped at the end of the test (actors that hold each other never die alone).
  template <class Handle> Handle stop_at_end(Handle handle) {
    to_stop_.push_back(caf::actor_cast<caf::actor>(handle));
    return handle;
  }

  /// A reply that run() fills in (see post).
  template <class T> using reply_slot = std::shared_ptr<std::optional<caf::expected<T>>>;

  /// Sends (xs...) to `dest` as a request without running anything: the reply lands in the slot
  /// once run() has delivered it, so several requests can be in flight at once.
  template <class T, class Handle, class... Ts> reply_slot<T> post(const Handle& dest, Ts... xs) {
    auto result = std::make_shared<std::optional<caf::expected<T>>>();
    sys_.spawn([=](caf::event_based_actor* self) {
      self->request(dest, std::chrono::seconds(10), xs...)
          .then([=](T& value) { *result = std::move(value); },
                [=](caf::error& err) { *result = std::move(err); });
    });
    return result;
  }

  /// Sends (xs...) to `dest` as a request, runs the system and returns the reply.
  template <class T, class Handle, class... Ts> caf::expected<T> ask(const Handle& dest, Ts... xs) {
    auto result = post<T>(dest, xs...);
    run();
    return take(result);
  }

  /// The reply in `slot`; a failed test (and request_timeout) when none came.
  template <class T> caf::expected<T> take(const reply_slot<T>& slot) {
    if (!*slot) {
      // No reply: fire the request timeout so that the client ends and the system can stop.
      sched_.trigger_timeouts();
      run();
      ADD_FAILURE() << "no reply to the request";
    }
    if (!*slot)
      return caf::make_error(caf::sec::request_timeout);
    return std::move(**slot);
  }

  /// Expects `result` to have failed with llmos error `code`; returns its description.
  template <class T> std::string expect_error(const caf::expected<T>& result, error_code code) {
    if (result) {
      ADD_FAILURE() << "expected error " << to_string(code) << ", got a value";
      return "";
    }
    EXPECT_EQ(result.error().category(), error_category) << describe(result.error());
    EXPECT_EQ(result.error().code(), static_cast<uint8_t>(code)) << describe(result.error());
    return describe(result.error());
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator& sched_;

private:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    // Devices and other workers get no thread of their own (llmos/runtime/worker_threads.hpp).
    // Not cfg.set: CAF 0.17 sets declared options only.
    caf::put(cfg.content, "llmos.workers", std::string{"inline"});
    register_messages(cfg);
    return cfg;
  }

  std::vector<caf::actor> to_stop_;
};

} // namespace llmos::test
