#include "node_manager/node_manager_actor.hpp"

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/drain.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/metrics.hpp"
#include "llmos/runtime/yaml_fields.hpp"
#include "node_manager/cluster_view.hpp"
#include "node_manager/heartbeat_meter.hpp"
#include "node_manager/restart_policy.hpp"

namespace llmos {
namespace {

// Timer messages the node manager sends itself; not part of the public interface.
using node_manager_impl =
    node_manager_actor::extend<caf::reacts_to<tick_atom>, caf::reacts_to<retry_atom, std::string>,
                               caf::reacts_to<restart_atom, std::string>>;

constexpr auto peer_timeout = std::chrono::seconds(10);
constexpr auto directory_timeout = std::chrono::seconds(10);

/// What restarting a local actor takes: its kind and whole config (the directory's copy is
/// redacted) and its restart history.
struct supervised_actor {
  std::string kind;
  std::map<std::string, std::string> config;
  restart_tracker tracker;
};

struct node_manager_state {
  node_manager_config cfg;
  std::unique_ptr<cluster_view> view;
  std::map<std::string, node_manager_actor> peers;
  std::map<std::string, actor_entry> local; ///< actors hosted by this node
  /// This node's system actors (itself, its gateway, the directory on the seed), as registered.
  std::map<std::string, actor_entry> system;
  std::vector<actor_entry> unregistered;              ///< waiting for the directory
  std::map<std::string, supervised_actor> supervised; ///< local actors with a restart policy
  uint64_t spawned = 0;
  cluster_view::clock::time_point started = cluster_view::clock::now();
  uint32_t pid = static_cast<uint32_t>(::getpid()); // pings are the heartbeat: keep them cheap
  static inline const char* name = "llmos.node_manager";
};

using self_ptr = node_manager_impl::stateful_pointer<node_manager_state>;

auto now() {
  return cluster_view::clock::now();
}

// Registers an entry, or parks it until the directory is known (a non-seed node that has not
// reached the seed yet still runs its actors; they become visible once it connects).
void register_entry(self_ptr self, actor_entry entry) {
  auto& st = self->state;
  if (entry.node == st.cfg.self && !st.local.count(entry.name))
    st.system[entry.name] = entry;
  if (!st.cfg.directory) {
    st.unregistered.push_back(std::move(entry));
    return;
  }
  auto name = entry.name;
  self->request(st.cfg.directory, directory_timeout, register_atom::value, std::move(entry))
      .then([](bool) {},
            [=](caf::error& err) {
              log_error("node '" + self->state.cfg.self + "': could not register '" + name +
                        "' in the directory: " + describe(err));
            });
}

/// The directory was (re)fetched from the seed: every entry of this node goes in again. A seed
/// that restarted holds an empty directory, and one that lost this node dropped its entries
/// (found by tools/chaos: after the seed's restart the other nodes' actors stayed unknown).
/// Entries the directory still holds are accepted again as they are.
void register_everything(self_ptr self) {
  auto& st = self->state;
  st.unregistered.clear();
  std::vector<actor_entry> all;
  for (const auto& [name, entry] : st.system)
    all.push_back(entry);
  for (const auto& [name, entry] : st.local)
    all.push_back(entry);
  for (auto& entry : all)
    register_entry(self, std::move(entry));
}

/// A config as the directory shows it (`actors`, the dashboard): secrets (tokens, passwords,
/// passphrases, keys) replaced, so that a listing never hands out, say, the HTTP admin token.
std::map<std::string, std::string> redacted(std::map<std::string, std::string> config) {
  for (auto& [key, value] : config)
    for (const char* secret : {"token", "password", "passphrase", "secret", "api_key"})
      if (key.find(secret) != std::string::npos && !value.empty())
        value = "(redacted)";
  return config;
}

// Spawns an actor of a registered kind on this node and records it; registration follows.
caf::expected<actor_entry> start_local(self_ptr self, const std::string& kind_name,
                                       std::string name, std::map<std::string, std::string> config,
                                       std::string restart = "on-failure") {
  auto& st = self->state;
  // `restart` is the node's key, not the kind's: spawn takes it among the config keys.
  if (auto r = config.find("restart"); r != config.end()) {
    restart = r->second;
    config.erase(r);
  }
  auto mode = parse_restart_mode(restart);
  if (!mode)
    return std::move(mode.error());
  // Names become directory keys and folder names (state, stores): the topology's rule.
  if (!name.empty() && !yaml_fields::is_valid_name(name))
    return make_llmos_error(error_code::bad_params,
                            "actor name '" + name +
                                "' is not valid: use only letters, digits, '_', '.' and '-', "
                                "not dots alone");
  const auto* kind = st.cfg.kinds->find(kind_name);
  if (kind == nullptr)
    return st.cfg.kinds->validate(kind_name, config).error();
  auto checked = st.cfg.kinds->validate(kind_name, config);
  if (!checked)
    return std::move(checked.error());
  if (name.empty())
    name = kind_name + "-" + st.cfg.self + "-" + std::to_string(++st.spawned);
  if (st.local.count(name) > 0)
    return make_llmos_error(error_code::duplicate_name, "actor name '" + name +
                                                            "' is already taken on node '" +
                                                            st.cfg.self + "'; choose another name");
  spawn_context ctx{self->system(),
                    st.cfg.self,
                    name,
                    *checked,
                    caf::actor_cast<caf::actor>(self),
                    [&st](const std::string& local, const std::string& of_kind) {
                      auto i = st.local.find(local);
                      return i != st.local.end() && i->second.kind == of_kind ? i->second.handle
                                                                              : caf::actor{};
                    }};
  auto handle = kind->spawn(ctx);
  if (!handle)
    return std::move(handle.error());
  actor_entry entry{name, kind_name, st.cfg.self, redacted(std::move(*checked)), *handle};
  // Linked, with exits trapped below: local actors end with their node manager.
  self->link_to(*handle);
  st.local.emplace(name, entry);
  // A restart keeps the history (and so the back-off and the limit) of the actor it replaces.
  if (auto s = st.supervised.find(name); s == st.supervised.end() || s->second.kind != kind_name)
    st.supervised.insert_or_assign(name,
                                   supervised_actor{kind_name, config, restart_tracker{*mode}});
  return entry;
}

void on_peer_lost(self_ptr self, const std::string& node, const std::string& why);

void connect_peer(self_ptr self, const std::string& node) {
  auto& st = self->state;
  const auto* spec = st.cfg.topo.find_node(node);
  auto mm = st.cfg.tls ? self->system().openssl_manager().actor_handle()
                       : self->system().middleman().actor_handle();
  self->request(mm, peer_timeout, caf::connect_atom::value, spec->host, spec->port)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            auto& st = self->state;
            if (!ptr) {
              self->delayed_send(self, st.view->on_connect_failed(node, now()), retry_atom::value,
                                 node);
              return;
            }
            auto peer = caf::actor_cast<node_manager_actor>(ptr);
            self->monitor(peer);
            st.peers[node] = peer;
            st.view->on_connected(node, now());
            log_info("node '" + st.cfg.self + "': connected to node '" + node + "'");
            if (!st.cfg.directory && node == st.cfg.topo.seed) {
              // The error handler is not optional: CAF 0.17 ends an actor whose request fails
              // without one, and this one fails whenever the seed goes away right after the
              // connect (the node manager died silently and its gateway answered every call
              // with request_receiver_down). The next connect to the seed asks again.
              self->request(peer, directory_timeout, get_atom::value, directory_atom::value)
                  .then(
                      [=](directory_actor& dir) {
                        self->state.cfg.directory = std::move(dir);
                        register_everything(self);
                      },
                      [=](caf::error& err) {
                        log_warning("node '" + self->state.cfg.self +
                                    "': no directory from seed '" + node +
                                    "' yet: " + self->system().render(err));
                      });
            }
          },
          [=](caf::error& err) {
            auto delay = self->state.view->on_connect_failed(node, now());
            log_debug("node '" + self->state.cfg.self + "': connect to '" + node + "' failed (" +
                      self->system().render(err) + "); retry in " + std::to_string(delay.count()) +
                      " ms");
            self->delayed_send(self, delay, retry_atom::value, node);
          });
}

void on_peer_lost(self_ptr self, const std::string& node, const std::string& why) {
  auto& st = self->state;
  log_warning("node '" + st.cfg.self + "': node '" + node + "' lost (" + why + ")");
  if (auto i = st.peers.find(node); i != st.peers.end()) {
    self->demonitor(i->second.address());
    st.peers.erase(i);
  }
  if (node == st.cfg.topo.seed)
    st.cfg.directory = nullptr; // the directory lived there; fetched again on reconnect
  self->delayed_send(self, st.view->on_connect_failed(node, now()), retry_atom::value, node);
}

/// A local actor ended by itself (a stop erased it before): restart it when its policy says so,
/// after its back-off; a stopping node restarts nothing.
void on_local_exit(self_ptr self, const std::string& name, const caf::error& reason) {
  auto& st = self->state;
  const bool failure =
      reason != caf::exit_reason::normal && reason != caf::exit_reason::user_shutdown;
  const auto why = reason ? caf::to_string(reason) : std::string{"normal"};
  auto s = st.supervised.find(name);
  if (drain::active() || s == st.supervised.end()) {
    if (failure)
      log_warning("node '" + st.cfg.self + "': actor '" + name + "' went down (" + why + ")");
    return;
  }
  auto delay = s->second.tracker.on_exit(failure, now());
  if (!delay) {
    if (s->second.tracker.gave_up())
      log_error("node '" + st.cfg.self + "': actor '" + name + "' went down (" + why + ") after " +
                std::to_string(s->second.tracker.restarts()) +
                " restarts; too many within a minute, it stays down");
    else if (failure)
      log_warning("node '" + st.cfg.self + "': actor '" + name + "' went down (" + why +
                  "); restart: " + to_string(s->second.tracker.mode()));
    st.supervised.erase(s);
    return;
  }
  log_warning("node '" + st.cfg.self + "': actor '" + name + "' went down (" + why +
              "); restarting it in " + std::to_string(delay->count()) + " ms (restart " +
              std::to_string(s->second.tracker.restarts()) + ")");
  // The directory drops the dead entry when it sees the actor go; make sure before re-using
  // the name (same sender, so this arrives before the new registration).
  if (st.cfg.directory)
    caf::anon_send(st.cfg.directory, unregister_atom::value, name);
  self->delayed_send(self, *delay, restart_atom::value, name);
}

/// When `source` is one of this node's actors: forgets it, applies its policy, true.
bool local_ended(self_ptr self, const caf::actor_addr& source, const caf::error& reason) {
  auto& st = self->state;
  for (auto i = st.local.begin(); i != st.local.end(); ++i) {
    if (i->second.handle.address() == source) {
      const auto name = i->first;
      st.local.erase(i);
      on_local_exit(self, name, reason);
      return true;
    }
  }
  return false;
}

/// The restart itself: the same kind, name and config; a start that fails counts as another end.
void restart_local(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto s = st.supervised.find(name);
  if (drain::active() || s == st.supervised.end() || st.local.count(name))
    return; // stopped meanwhile, or started again by hand
  auto entry = start_local(self, s->second.kind, name, s->second.config,
                           to_string(s->second.tracker.mode()));
  if (!entry) {
    log_error("node '" + st.cfg.self + "': actor '" + name +
              "' did not restart: " + describe(entry.error()));
    on_local_exit(self, name, caf::exit_reason::unhandled_exception);
    return;
  }
  log_info("node '" + st.cfg.self + "': actor '" + name + "' restarted");
  register_entry(self, std::move(*entry));
}

caf::typed_response_promise<actor_entry> forward_spawn(self_ptr self, spawn_request req) {
  auto rp = self->make_response_promise<actor_entry>();
  auto i = self->state.peers.find(req.node);
  if (i == self->state.peers.end()) {
    rp.deliver(make_llmos_error(error_code::node_unreachable,
                                "node '" + req.node + "' is not connected (state " +
                                    to_string(self->state.view->state_of(req.node)) + ")"));
    return rp;
  }
  self->request(i->second, peer_timeout, spawn_atom::value, std::move(req))
      .then([=](actor_entry& e) mutable { rp.deliver(std::move(e)); },
            [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::typed_response_promise<actor_entry> spawn_here(self_ptr self, spawn_request& req) {
  auto rp = self->make_response_promise<actor_entry>();
  auto entry = start_local(self, req.kind, req.name, req.config);
  if (!entry) {
    rp.deliver(std::move(entry.error()));
    return rp;
  }
  auto& st = self->state;
  if (!st.cfg.directory) {
    st.unregistered.push_back(*entry);
    rp.deliver(std::move(*entry));
    return rp;
  }
  self->request(st.cfg.directory, directory_timeout, register_atom::value, *entry)
      .then([=](bool) mutable { rp.deliver(*entry); },
            [=](caf::error& err) mutable {
              // The name is taken elsewhere in the cluster: undo the spawn.
              self->send_exit(entry->handle, caf::exit_reason::user_shutdown);
              self->state.local.erase(entry->name);
              self->state.supervised.erase(entry->name);
              rp.deliver(std::move(err));
            });
  return rp;
}

/// Stops `name` (for good: no restart), or with `kill` ends it as a failure would, wherever it
/// runs; its own node restarts a killed actor under its policy.
caf::typed_response_promise<bool> stop_actor(self_ptr self, const std::string& name,
                                             bool kill = false) {
  auto rp = self->make_response_promise<bool>();
  auto& st = self->state;
  if (auto i = st.local.find(name); i != st.local.end()) {
    if (kill) {
      // The exit a crash gives. Not exit_reason::kill: CAF 0.17 passes that one on to every
      // linked actor unconditionally, which would take the node manager down with it. An actor
      // that receives an exit message unlinks from its sender, so no exit message comes back:
      // the down handler sees it go and applies its policy.
      self->monitor(i->second.handle);
      self->send_exit(i->second.handle, caf::exit_reason::unhandled_exception);
      rp.deliver(true);
      return rp;
    }
    self->send_exit(i->second.handle, caf::exit_reason::user_shutdown);
    st.local.erase(i);
    st.supervised.erase(name);
    if (st.cfg.directory)
      caf::anon_send(st.cfg.directory, unregister_atom::value, name);
    rp.deliver(true);
    return rp;
  }
  if (!st.cfg.directory) {
    rp.deliver(make_llmos_error(error_code::no_such_actor,
                                "no actor named '" + name + "' on node '" + st.cfg.self +
                                    "' and the directory is not reachable"));
    return rp;
  }
  // Not hosted here: ask the directory where it lives and let that node stop it.
  self->request(st.cfg.directory, directory_timeout, lookup_atom::value, name)
      .then(
          [=](actor_entry& entry) mutable {
            auto i = self->state.peers.find(entry.node);
            if (i == self->state.peers.end()) {
              rp.deliver(make_llmos_error(error_code::node_unreachable,
                                          "actor '" + name + "' lives on node '" + entry.node +
                                              "', which is not connected"));
              return;
            }
            auto on_done = [=](bool ok) mutable { rp.deliver(ok); };
            auto on_error = [=](caf::error& err) mutable { rp.deliver(std::move(err)); };
            if (kill)
              self->request(i->second, peer_timeout, kill_atom::value, name)
                  .then(on_done, on_error);
            else
              self->request(i->second, peer_timeout, stop_atom::value, name)
                  .then(on_done, on_error);
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

/// A monitored actor ended: one of this node's (its restart policy applies) or a peer's node
/// manager (the peer is lost).
void on_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  if (local_ended(self, msg.source, msg.reason)) // one we killed (stop_actor)
    return;
  for (const auto& [name, peer] : st.peers) {
    if (peer.address() == msg.source) {
      const auto node = name; // on_peer_lost erases the map entry
      if (st.view->on_connection_closed(node, now()))
        on_peer_lost(self, node, "connection closed");
      return;
    }
  }
}

/// The actors the topology puts on this node, each registered once it runs.
void start_topology_actors(self_ptr self) {
  auto& st = self->state;
  const auto* me = st.cfg.topo.find_node(st.cfg.self);
  if (me == nullptr)
    return;
  for (const auto& spec : me->actors) {
    auto entry = start_local(self, spec.kind, spec.name, spec.config, spec.restart);
    if (entry)
      register_entry(self, std::move(*entry));
    else
      log_error("node '" + st.cfg.self + "': actor '" + spec.name + "' (line " +
                std::to_string(spec.line) + ") did not start: " + describe(entry.error()));
  }
}

caf::typed_response_promise<actor_entry> on_spawn(self_ptr self, spawn_request& req) {
  if (req.node.empty() || req.node == self->state.cfg.self)
    return spawn_here(self, req);
  if (self->state.cfg.topo.find_node(req.node) == nullptr) {
    auto rp = self->make_response_promise<actor_entry>();
    rp.deliver(
        make_llmos_error(error_code::no_such_node,
                         "no node named '" + req.node + "' in the topology; 'nodes' lists them"));
    return rp;
  }
  return forward_spawn(self, std::move(req));
}

/// This node's own actors are known here: the same list the directory holds for it, without
/// asking the seed (a stopping node lists them when the seed may be gone).
std::vector<actor_entry> own_actors(const node_manager_state& st) {
  std::map<std::string, actor_entry> mine = st.system;
  for (const auto& [name, e] : st.local)
    mine[name] = e;
  std::vector<actor_entry> out;
  for (auto& [name, e] : mine)
    out.push_back(std::move(e));
  return out;
}

caf::typed_response_promise<std::vector<actor_entry>> on_actors(self_ptr self,
                                                                const std::string& node) {
  auto rp = self->make_response_promise<std::vector<actor_entry>>();
  auto& st = self->state;
  if (node == st.cfg.self) {
    rp.deliver(own_actors(st));
    return rp;
  }
  if (!st.cfg.directory) {
    rp.deliver(make_llmos_error(error_code::node_unreachable,
                                "the directory on seed node '" + st.cfg.topo.seed +
                                    "' is not reachable from node '" + st.cfg.self + "'"));
    return rp;
  }
  self->request(st.cfg.directory, directory_timeout, actors_atom::value, node)
      .then([=](std::vector<actor_entry>& xs) mutable { rp.deliver(std::move(xs)); },
            [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

/// Pings every peer, declares lost those silent past lost_after_ms, and comes again.
void on_heartbeat_tick(self_ptr self) {
  auto& st = self->state;
  static heartbeat_meter meter{process_metrics()};
  const std::chrono::milliseconds interval{st.cfg.topo.heartbeat_ms};
  for (const auto& [name, peer] : st.peers) {
    const auto node = name;
    const auto sent = now();
    meter.sent(node);
    // Urgent: a heartbeat (and its answer, which keeps the category) goes ahead of the calls a
    // flooding RPC client queued in the peer's mailbox. The RPC port's own actor system (its
    // own multiplexer thread, node.cpp) is what made the late heartbeats of `llmos-bench
    // hardening` go away; this keeps mailbox queueing out of the way too.
    self->request<caf::message_priority::high>(
            peer, std::chrono::milliseconds(st.cfg.topo.lost_after_ms), ping_atom::value)
        .then(
            [=](const pong&) {
              meter.answered(node, now() - sent, interval);
              self->state.view->on_heartbeat(node, now());
            },
            // Silence is judged by expire() below; here it is only counted.
            [=](caf::error&) { meter.failed(node); });
  }
  for (const auto& node : st.view->expire(now()))
    on_peer_lost(self, node,
                 "no heartbeat for " + std::to_string(st.cfg.topo.lost_after_ms) + " ms");
  self->delayed_send<caf::message_priority::high>(
      self, std::chrono::milliseconds(st.cfg.topo.heartbeat_ms), tick_atom::value);
}

node_manager_impl::behavior_type node_manager(self_ptr self, node_manager_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  if (st.cfg.topo.seed.empty() && !st.cfg.topo.nodes.empty())
    st.cfg.topo.seed = st.cfg.topo.nodes.front().name;
  st.view = std::make_unique<cluster_view>(st.cfg.topo, st.cfg.self);
  self->set_down_handler([=](const caf::down_msg& msg) { on_down(self, msg); });
  self->set_exit_handler([=](const caf::exit_msg& msg) {
    if (local_ended(self, msg.source, msg.reason))
      return;
    // Not one of ours: a shutdown request for the node manager itself.
    self->quit(msg.reason);
  });
  // The node manager registers itself so that `actors` shows it and peers can find it.
  register_entry(self, actor_entry{st.cfg.self + ".manager",
                                   "node_manager",
                                   st.cfg.self,
                                   {},
                                   caf::actor_cast<caf::actor>(self)});
  start_topology_actors(self);
  for (const auto& n : st.cfg.topo.nodes)
    if (n.name != st.cfg.self)
      connect_peer(self, n.name);
  if (st.cfg.topo.nodes.size() > 1)
    self->send(self, tick_atom::value);
  return {
      [=](ping_atom) -> pong {
        auto up = now() - self->state.started;
        return pong{self->state.cfg.self, self->state.pid,
                    std::chrono::duration_cast<std::chrono::milliseconds>(up).count()};
      },
      [=](nodes_atom) -> std::vector<node_status> { return self->state.view->snapshot(now()); },
      [=](spawn_atom, spawn_request& req) { return on_spawn(self, req); },
      [=](stop_atom, const std::string& name) { return stop_actor(self, name); },
      [=](kill_atom, const std::string& name) { return stop_actor(self, name, true); },
      [=](restart_atom, const std::string& name) { restart_local(self, name); },
      [=](actors_atom, const std::string& node) { return on_actors(self, node); },
      [=](get_atom, directory_atom) -> caf::result<directory_actor> {
        if (!self->state.cfg.directory)
          return make_llmos_error(error_code::node_unreachable,
                                  "node '" + self->state.cfg.self + "' has no directory yet");
        return self->state.cfg.directory;
      },
      [=](register_atom, actor_entry& entry) { register_entry(self, std::move(entry)); },
      [=](tick_atom) { on_heartbeat_tick(self); },
      [=](retry_atom, const std::string& node) {
        if (self->state.peers.count(node) == 0)
          connect_peer(self, node);
      },
  };
}

} // namespace

node_manager_actor spawn_node_manager(caf::actor_system& sys, node_manager_config cfg) {
  auto impl = sys.spawn(node_manager, std::move(cfg));
  return caf::actor_cast<node_manager_actor>(impl);
}

} // namespace llmos
