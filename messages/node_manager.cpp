#include "llmos/messages/node_manager.hpp"

namespace llmos {

const char* to_string(node_state s) {
  switch (s) {
  case node_state::self:
    return "self";
  case node_state::connecting:
    return "connecting";
  case node_state::up:
    return "up";
  case node_state::lost:
    return "lost";
  }
  return "unknown";
}

bool from_string(std::string_view name, node_state& s) {
  for (auto candidate :
       {node_state::self, node_state::connecting, node_state::up, node_state::lost})
    if (name == to_string(candidate)) {
      s = candidate;
      return true;
    }
  return false;
}

} // namespace llmos
