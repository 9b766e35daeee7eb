#include "llmos/actors/builtin_kinds.hpp"

#include "model/model_actor.hpp"
#include "registry/registry_actor.hpp"
#include "serving/server_actor.hpp"

namespace llmos {

actor_kind_table builtin_actor_kinds() {
  auto table = torch_free_actor_kinds();
  table.add(model_kind());
  table.add(registry_kind());
  table.add(server_kind());
  return table;
}

} // namespace llmos
