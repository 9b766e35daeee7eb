#include "directory/name_table.hpp"

#include "llmos/messages/error.hpp"

namespace llmos {

caf::error name_table::add(actor_entry entry) {
  if (auto i = entries_.find(entry.name); i != entries_.end()) {
    // The same actor registered again (its node re-registers everything after reaching a
    // restarted seed): accepted, the newer entry kept.
    if (i->second.node == entry.node && i->second.handle == entry.handle) {
      i->second = std::move(entry);
      return caf::none;
    }
    const auto& old = i->second;
    return make_llmos_error(error_code::duplicate_name,
                            "actor name '" + entry.name + "' is already taken by a " + old.kind +
                                " on node '" + old.node + "'; choose another name");
  }
  auto name = entry.name;
  entries_.emplace(std::move(name), std::move(entry));
  return caf::none;
}

caf::expected<actor_entry> name_table::remove(const std::string& name) {
  auto i = entries_.find(name);
  if (i == entries_.end())
    return make_llmos_error(error_code::no_such_actor, "no actor named '" + name + "'");
  auto entry = std::move(i->second);
  entries_.erase(i);
  return entry;
}

namespace {

// Moves every entry that satisfies `pred` out of `entries`.
template <class Pred>
std::vector<actor_entry> extract_if(std::map<std::string, actor_entry>& entries, Pred pred) {
  std::vector<actor_entry> removed;
  for (auto i = entries.begin(); i != entries.end();) {
    if (pred(i->second)) {
      removed.push_back(std::move(i->second));
      i = entries.erase(i);
    } else {
      ++i;
    }
  }
  return removed;
}

} // namespace

std::vector<actor_entry> name_table::remove_address(const caf::actor_addr& addr) {
  return extract_if(entries_, [&](const actor_entry& e) { return e.handle.address() == addr; });
}

std::vector<actor_entry> name_table::remove_node(const std::string& node) {
  return extract_if(entries_, [&](const actor_entry& e) { return e.node == node; });
}

caf::expected<actor_entry> name_table::find(const std::string& name) const {
  auto i = entries_.find(name);
  if (i == entries_.end())
    return make_llmos_error(error_code::no_such_actor,
                            "no actor named '" + name + "'; 'actors' lists the known names");
  return i->second;
}

std::vector<actor_entry> name_table::list(const std::string& node) const {
  std::vector<actor_entry> out;
  for (const auto& [name, entry] : entries_)
    if (node.empty() || entry.node == node)
      out.push_back(entry);
  return out;
}

} // namespace llmos
