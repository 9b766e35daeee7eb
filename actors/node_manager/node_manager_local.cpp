// This node's own actors: started by kind (from the topology or a spawn request), registered,
// and restarted under their policy when they end by themselves.
#include "llmos/messages/error.hpp"
#include "llmos/runtime/drain.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/yaml_fields.hpp"
#include "node_manager/node_manager_state.hpp"

namespace llmos::node_manager_detail {

namespace {

/// A config as the directory shows it (`actors`, the dashboard): secrets (tokens, passwords,
/// passphrases, keys) replaced, so that a listing never hands out, say, the HTTP admin token.
std::map<std::string, std::string> redacted(std::map<std::string, std::string> config) {
  for (auto& [key, value] : config)
    for (const char* secret : {"token", "password", "passphrase", "secret", "api_key"})
      if (key.find(secret) != std::string::npos && !value.empty())
        value = "(redacted)";
  return config;
}

} // namespace

caf::expected<actor_entry> start_local(self_ptr self, const std::string& kind_name,
                                       std::string name, std::map<std::string, std::string> config,
                                       std::string restart) {
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

namespace {

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

} // namespace

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

} // namespace llmos::node_manager_detail
