#include "node_manager/cluster_view.hpp"

#include <algorithm>

namespace llmos {

std::chrono::milliseconds backoff_policy::delay(uint32_t failures) const {
  // Shift at most 16 times: beyond that the cap applies anyway and the shift would overflow.
  auto d = initial * (int64_t{1} << std::min<uint32_t>(failures, 16));
  return std::min(d, cap);
}

cluster_view::cluster_view(const topology& topo, const std::string& self, backoff_policy backoff)
    : lost_after_(topo.lost_after_ms), backoff_(backoff) {
  const auto now = clock::now();
  for (const auto& n : topo.nodes) {
    entry e;
    e.status.name = n.name;
    e.status.host = n.host;
    e.status.port = n.port;
    e.status.rpc_port = n.rpc_port;
    e.status.devices = n.devices;
    e.status.state = n.name == self ? node_state::self : node_state::connecting;
    e.since = now;
    e.last_seen = now;
    order_.push_back(n.name);
    nodes_.emplace(n.name, std::move(e));
  }
}

void cluster_view::set_state(entry& e, node_state s, clock::time_point now) {
  if (e.status.state != s) {
    e.status.state = s;
    e.since = now;
  }
}

void cluster_view::on_connected(const std::string& node, clock::time_point now) {
  auto i = nodes_.find(node);
  if (i == nodes_.end() || i->second.status.state == node_state::self)
    return;
  i->second.failures = 0;
  i->second.last_seen = now;
  set_state(i->second, node_state::up, now);
}

std::chrono::milliseconds cluster_view::on_connect_failed(const std::string& node,
                                                          clock::time_point) {
  auto i = nodes_.find(node);
  if (i == nodes_.end())
    return backoff_.cap;
  return backoff_.delay(i->second.failures++);
}

void cluster_view::on_heartbeat(const std::string& node, clock::time_point now) {
  auto i = nodes_.find(node);
  if (i != nodes_.end() && i->second.status.state == node_state::up)
    i->second.last_seen = now;
}

bool cluster_view::on_connection_closed(const std::string& node, clock::time_point now) {
  auto i = nodes_.find(node);
  if (i == nodes_.end() || i->second.status.state != node_state::up)
    return false;
  set_state(i->second, node_state::lost, now);
  return true;
}

std::vector<std::string> cluster_view::expire(clock::time_point now) {
  std::vector<std::string> lost;
  for (auto& name : order_) {
    auto& e = nodes_.at(name);
    if (e.status.state == node_state::up && now - e.last_seen > lost_after_) {
      set_state(e, node_state::lost, now);
      lost.push_back(name);
    }
  }
  return lost;
}

std::vector<std::string> cluster_view::peers_in(node_state state) const {
  std::vector<std::string> out;
  for (const auto& name : order_)
    if (nodes_.at(name).status.state == state)
      out.push_back(name);
  return out;
}

node_state cluster_view::state_of(const std::string& node) const {
  auto i = nodes_.find(node);
  return i == nodes_.end() ? node_state::connecting : i->second.status.state;
}

std::vector<node_status> cluster_view::snapshot(clock::time_point now) const {
  std::vector<node_status> out;
  for (const auto& name : order_) {
    const auto& e = nodes_.at(name);
    auto s = e.status;
    s.since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - e.since).count();
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace llmos
