#include "http/gateway_context.hpp"

#include "llmos/messages/error.hpp"
#include "llmos/messages/node_manager.hpp"

namespace llmos::http {

caf::expected<std::vector<actor_entry>> gateway_context::entries() {
  auto dir = ask<directory_actor>(manager, get_atom::value, directory_atom::value);
  if (!dir)
    return std::move(dir.error());
  auto all = ask<std::vector<actor_entry>>(*dir, actors_atom::value, std::string{});
  if (all)
    servers.update(*all);
  return all;
}

caf::expected<registry_actor> gateway_context::registry() {
  {
    std::lock_guard<std::mutex> guard{registry_mutex_};
    if (registry_)
      return registry_;
  }
  auto dir = ask<directory_actor>(manager, get_atom::value, directory_atom::value);
  if (!dir)
    return std::move(dir.error());
  auto e = ask<actor_entry>(*dir, lookup_atom::value, cfg.registry);
  if (!e)
    return make_llmos_error(error_code::unavailable,
                            "no registry actor '" + cfg.registry + "': " + describe(e.error()));
  std::lock_guard<std::mutex> guard{registry_mutex_};
  registry_ = caf::actor_cast<registry_actor>(e->handle);
  return registry_;
}

caf::expected<caf::actor> gateway_context::lookup(const std::string& name) {
  auto dir = ask<directory_actor>(manager, get_atom::value, directory_atom::value);
  if (!dir)
    return std::move(dir.error());
  auto e = ask<actor_entry>(*dir, lookup_atom::value, name);
  if (!e)
    return make_llmos_error(error_code::unavailable,
                            "no actor '" + name + "': " + describe(e.error()));
  return e->handle;
}

} // namespace llmos::http
