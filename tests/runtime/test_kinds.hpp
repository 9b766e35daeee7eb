// The actor kinds the runtime tests parse against: a "device" kind shaped like the real one and a
// "trainer" kind that uses every config type. Their spawn functions refuse, because parsing and
// validating never need an actor system.
#pragma once

#include "llmos/messages/error.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos::test {

/// A table with the kinds "device" and "trainer".
inline actor_kind_table make_test_kinds() {
  auto refuse_spawn = [](spawn_context&) -> caf::expected<caf::actor> {
    return make_llmos_error(error_code::unknown_kind, "test kinds are never spawned");
  };
  actor_kind_table kinds;
  kinds.add({"device",
             "one compute device",
             {{"type", config_type::string, "cpu", false, "cpu or cuda", {"cpu", "cuda"}},
              {"threads", config_type::integer, "1", false, "intra-op threads", {}}},
             refuse_spawn});
  kinds.add({"trainer",
             "runs an optimiser",
             {{"lr", config_type::number, "", true, "learning rate", {}},
              {"shuffle", config_type::boolean, "true", false, "shuffle every epoch", {}},
              {"steps", config_type::integer, "", false, "", {}},
              {"note", config_type::string, "", false, "", {}},
              {"data", config_type::path, "", false, "a file", {}}},
             refuse_spawn});
  return kinds;
}

} // namespace llmos::test
