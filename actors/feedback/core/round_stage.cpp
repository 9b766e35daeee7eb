#include "feedback/core/round_stage.hpp"

namespace llmos::feedback {

const char* to_string(round_stage s) {
  switch (s) {
  case round_stage::preparing:
    return "preparing";
  case round_stage::training:
    return "training";
  case round_stage::evaluating:
    return "evaluating";
  case round_stage::canary:
    return "canary";
  case round_stage::deciding:
    return "deciding";
  }
  return "unknown";
}

bool round_progress::move_to(round_stage next) {
  if (static_cast<int>(next) != static_cast<int>(stage_) + 1)
    return false;
  stage_ = next;
  return true;
}

} // namespace llmos::feedback
