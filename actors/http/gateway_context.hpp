// What the HTTP worker threads share with the gateway actor: the actor system (to talk to
// actors through blocking scoped actors), the node manager (directory), the server table, the
// admin token and limits, the alert engine and the feedback log.
#pragma once

#include <chrono>
#include <mutex>
#include <set>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include "http/auth_throttle.hpp"
#include "http/server_table.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/registry.hpp"
#include "monitor/core/alert_engine.hpp"

namespace llmos::http {

struct gateway_config {
  std::string name;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string token;                ///< admin endpoints need "Authorization: Bearer TOKEN"
  std::set<std::string> protect;    ///< route groups that need the token too (route_policy)
  std::size_t body_limit = 1 << 20; ///< bytes; larger bodies get 413
  uint32_t threads = 8;             ///< connections served at once
  std::string registry = "registry";
  std::string feedback_log = "feedback.jsonl";
  std::string analyst;     ///< feedback analyst actor; "" = feedback goes to feedback_log
  std::string alert_rules; ///< YAML file; "" = no rules
  std::chrono::milliseconds request_timeout{30000};
};

struct gateway_context {
  gateway_context(caf::actor_system& sys, caf::actor mgr, gateway_config c)
      : system(sys), manager(std::move(mgr)), cfg(std::move(c)) {}

  caf::actor_system& system;
  caf::actor manager;
  gateway_config cfg;
  server_table servers;
  std::mutex alerts_mutex;
  monitor::alert_engine alerts{{}};
  std::mutex feedback_mutex;
  auth_throttle auth_failures;

  /// Asks `dest` and waits (on the calling worker thread) for a reply of type R.
  template <class R, class Dest, class... Ts> caf::expected<R> ask(const Dest& dest, Ts&&... xs) {
    caf::scoped_actor self{system};
    caf::expected<R> out{caf::error{}};
    self->request(dest, cfg.request_timeout, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); }, [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  /// Every directory entry (refreshes the server table on the way).
  caf::expected<std::vector<actor_entry>> entries();

  /// The registry actor, looked up by name once (again after it failed: see ask_registry).
  caf::expected<registry_actor> registry();

  /// Asks the registry; an error that is not the registry's own answer (CAF's: it went down,
  /// it did not answer) drops the cached handle, so that the next call finds the registry its
  /// node restarted.
  template <class R, class... Ts> caf::expected<R> ask_registry(Ts&&... xs) {
    auto reg = registry();
    if (!reg)
      return std::move(reg.error());
    auto out = ask<R>(*reg, std::forward<Ts>(xs)...);
    if (!out && out.error().category() != error_category) {
      std::lock_guard<std::mutex> guard{registry_mutex_};
      if (registry_ == *reg)
        registry_ = nullptr;
    }
    return out;
  }

  /// The actor `name` from the directory (looked up on every call: it may have restarted).
  caf::expected<caf::actor> lookup(const std::string& name);

private:
  std::mutex registry_mutex_;
  registry_actor registry_;
};

} // namespace llmos::http
