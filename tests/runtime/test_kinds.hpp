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
             {optional_key("type", config_type::string, "cpu", "cpu or cuda", {"cpu", "cuda"}),
              optional_key("threads", config_type::integer, "1", "intra-op threads")},
             refuse_spawn});
  kinds.add({"trainer",
             "runs an optimiser",
             {required_key("lr", config_type::number, "learning rate"),
              optional_key("shuffle", config_type::boolean, "true", "shuffle every epoch"),
              optional_key("steps", config_type::integer, "", ""),
              optional_key("note", config_type::string, "", ""),
              optional_key("data", config_type::path, "", "a file")},
             refuse_spawn});
  return kinds;
}

} // namespace llmos::test
