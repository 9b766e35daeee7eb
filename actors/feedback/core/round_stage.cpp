#include "feedback/core/round_stage.hpp"
#include "llmos/messages/enum_names.hpp"

namespace llmos::feedback {

constexpr enum_name<round_stage> stage_names[] = {{round_stage::preparing, "preparing"},
                                                  {round_stage::training, "training"},
                                                  {round_stage::evaluating, "evaluating"},
                                                  {round_stage::canary, "canary"},
                                                  {round_stage::deciding, "deciding"}};

const char* to_string(round_stage s) {
  return name_of(stage_names, s, "unknown").data();
}

bool round_progress::move_to(round_stage next) {
  if (static_cast<int>(next) != static_cast<int>(stage_) + 1)
    return false;
  stage_ = next;
  return true;
}

} // namespace llmos::feedback
