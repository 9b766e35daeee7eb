// The node's peers: connections to the other node managers (retried while they are away), the
// directory fetched from the seed and this node's entries registered in it, and the heartbeat
// that declares a silent peer lost.
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/metrics.hpp"
#include "node_manager/heartbeat_meter.hpp"
#include "node_manager/node_manager_state.hpp"

namespace llmos::node_manager_detail {

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

namespace {

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

} // namespace

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

} // namespace llmos::node_manager_detail
