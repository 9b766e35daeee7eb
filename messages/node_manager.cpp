#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/enum_names.hpp"

namespace llmos {

constexpr enum_name<node_state> state_names[] = {{node_state::self, "self"},
                                                 {node_state::connecting, "connecting"},
                                                 {node_state::up, "up"},
                                                 {node_state::lost, "lost"}};

const char* to_string(node_state s) {
  return name_of(state_names, s, "unknown").data();
}

bool from_string(std::string_view name, node_state& s) {
  auto found = value_of(state_names, name);
  if (found)
    s = *found;
  return found.has_value();
}

} // namespace llmos
