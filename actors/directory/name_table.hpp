// The directory's bookkeeping as a plain class: names -> entries, with the indexes the actor
// needs to drop entries when a handle goes down or a whole node is lost. Testable without an
// actor system.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/expected.hpp>

#include "llmos/messages/directory.hpp"

namespace llmos {

class name_table {
public:
  /// Adds an entry; duplicate_name error when the name is taken.
  caf::error add(actor_entry entry);

  /// Removes by name; returns the removed entry or no_such_actor.
  caf::expected<actor_entry> remove(const std::string& name);

  /// Removes every entry whose handle has this address (an actor that went down).
  std::vector<actor_entry> remove_address(const caf::actor_addr& addr);

  /// Removes every entry hosted by `node` (a lost node).
  std::vector<actor_entry> remove_node(const std::string& node);

  /// The entry called `name`; no_such_actor error names it.
  caf::expected<actor_entry> find(const std::string& name) const;

  /// All entries, or those of one node when `node` is non-empty, sorted by name.
  std::vector<actor_entry> list(const std::string& node) const;

  std::size_t size() const { return entries_.size(); }

private:
  std::map<std::string, actor_entry> entries_;
};

} // namespace llmos
