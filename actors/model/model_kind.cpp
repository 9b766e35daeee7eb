// The "model" actor kind: a model actor for a spec file, computing on a device actor of its node
// named by `device` (a GPU: device type cuda) or on a CPU device actor of its own.
#include <string>

#include "device/device_actor.hpp"
#include "device/device_core.hpp"
#include "llmos/messages/error.hpp"
#include "model/model_actor.hpp"

namespace llmos {

actor_kind model_kind() {
  actor_kind kind;
  kind.name = "model";
  kind.help = "one model replica (spec YAML) training and serving on a device actor of its node "
              "(device: NAME) or on a CPU device of its own";
  kind.fields = {
      {"spec", config_type::path, "", true, "model spec YAML (nodes/examples/models/)", {}},
      {"threads",
       config_type::integer,
       "1",
       false,
       "CPU threads of the model's own device (without device)",
       {}},
      {"device",
       config_type::string,
       "",
       false,
       "a device actor of this node to compute on (declared before the model), e.g. gpu0",
       {}},
  };
  kind.spawn = [](spawn_context& ctx) -> caf::expected<caf::actor> {
    auto spec = model::load_model_spec(ctx.config["spec"]);
    if (!spec)
      return std::move(spec.error());
    const long long threads = std::stoll(ctx.config["threads"]);
    if (threads < 1 || threads > 1024)
      return make_llmos_error(error_code::bad_config,
                              "config key 'threads' must be from 1 to 1024, got " +
                                  ctx.config["threads"]);
    if (const auto& name = ctx.config["device"]; !name.empty()) {
      // Placed on a device the node already hosts: its jobs run there (on its GPU for a cuda
      // device), one at a time with those of every other model placed on it.
      auto device = find_local_device(ctx, "model");
      if (!device)
        return std::move(device.error());
      return caf::actor_cast<caf::actor>(spawn_model(ctx.system, std::move(*spec), *device, name));
    }
    auto core = device_core::create(ctx.name + ".device", "cpu", 0, static_cast<uint32_t>(threads));
    if (!core)
      return std::move(core.error());
    auto device = spawn_device(ctx.system, std::move(*core));
    return caf::actor_cast<caf::actor>(
        spawn_model(ctx.system, std::move(*spec), device, ctx.name + ".device"));
  };
  return kind;
}

} // namespace llmos
