#include "node_manager/node_manager_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/log.hpp"
#include "node_manager/node_manager_state.hpp"

namespace llmos {
namespace {

using namespace node_manager_detail;

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

node_manager_impl::behavior_type node_manager_behavior(self_ptr self, node_manager_config cfg) {
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
  auto impl = sys.spawn(node_manager_behavior, std::move(cfg));
  return caf::actor_cast<node_manager_actor>(impl);
}

} // namespace llmos
