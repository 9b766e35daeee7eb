// The "model" actor kind: a model actor for a spec file, computing on a device actor of its node
// named by `device` (a GPU: device type cuda) or on a CPU device actor of its own, which ends
// with it. Servers spawn their replicas through it too (serving/deployment.cpp).
#include <string>

#include <caf/abstract_actor.hpp>
#include <caf/send.hpp>

#include "device/device_actor.hpp"
#include "device/device_core.hpp"
#include "llmos/messages/error.hpp"
#include "model/decoding_config.hpp"
#include "model/model_actor.hpp"

namespace llmos {
namespace {

/// A model on a CPU device of its own: the device ends when the model does (a stopped or
/// replaced replica would otherwise leave its device's thread behind).
caf::expected<caf::actor> spawn_with_own_device(spawn_context& ctx, model::model_spec spec,
                                                uint32_t threads,
                                                const decoding_settings& decoding) {
  const auto device_name = ctx.name + ".device";
  auto core = device_core::create(device_name, "cpu", 0, threads);
  if (!core)
    return std::move(core.error());
  auto device = spawn_device(ctx.system, std::move(*core));
  auto model = caf::actor_cast<caf::actor>(spawn_model(
      ctx.system, std::move(spec), device, device_name, decoding.decoder, decoding.generate_queue));
  model->attach_functor([device](const caf::error&) {
    caf::anon_send_exit(device, caf::exit_reason::user_shutdown);
  });
  return model;
}

caf::expected<caf::actor> spawn_from_config(spawn_context& ctx) {
  auto spec = model::load_model_spec(ctx.config["spec"]);
  if (!spec)
    return std::move(spec.error());
  auto threads = config_integer(ctx.config, "threads", 1, 1024);
  if (!threads)
    return std::move(threads.error());
  auto decoding = read_decoding(ctx.config);
  if (!decoding)
    return std::move(decoding.error());
  if (const auto& name = ctx.config["device"]; !name.empty()) {
    // Placed on a device the node already hosts: its jobs run there (on its GPU for a cuda
    // device), one at a time with those of every other model placed on it.
    auto device = find_local_device(ctx, "model");
    if (!device)
      return std::move(device.error());
    return caf::actor_cast<caf::actor>(spawn_model(ctx.system, std::move(*spec), *device, name,
                                                   decoding->decoder, decoding->generate_queue));
  }
  return spawn_with_own_device(ctx, std::move(*spec), static_cast<uint32_t>(*threads), *decoding);
}

/// The keys a topology may give a model actor.
const std::vector<config_field> model_fields = joined(
    {
        required_key("spec", config_type::path, "model spec YAML (nodes/examples/models/)"),
        optional_key("threads", config_type::integer, "1",
                     "CPU threads of the model's own device (without device)"),
        optional_key("device", config_type::string, "",
                     "a device actor of this node to compute on (declared before the model), "
                     "e.g. gpu0"),
    },
    decoding_fields());

} // namespace

actor_kind model_kind() {
  return {"model",
          "one model replica (spec YAML) training and serving on a device actor of its node "
          "(device: NAME) or on a CPU device of its own",
          model_fields, spawn_from_config};
}

} // namespace llmos
