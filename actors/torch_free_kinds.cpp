#include "llmos/actors/builtin_kinds.hpp"

#include "dataset/dataset_actor.hpp"
#include "device/device_actor.hpp"
#include "feedback/feedback_actor.hpp"
#include "http/http_gateway.hpp"
#include "scheduler/scheduler_actor.hpp"
#include "tuner/tuner_actor.hpp"

namespace llmos {

actor_kind_table torch_free_actor_kinds() {
  actor_kind_table table;
  table.add(device_kind());
  table.add(dataset_kind());
  table.add(scheduler_kind());
  table.add(tuner_kind());
  table.add(feedback_kind());
  table.add(http_kind());
  return table;
}

} // namespace llmos
