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

} // namespace llmos
