#include "device/device_actor.hpp"

#include <chrono>
#include <limits>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/worker_threads.hpp"

namespace llmos {
namespace {

struct device_state {
  std::optional<device_core> core;
  static inline const char* name = "llmos.device";
};

device_actor::behavior_type device_behavior(device_actor::stateful_pointer<device_state> self,
                                            device_core core) {
  self->state.core = std::move(core);
  return {
      [=](info_atom) -> device_info { return self->state.core->snapshot(self->mailbox().size()); },
      // caf::result takes the core's caf::expected as it is: the value, or the error.
      [=](nccl_id_atom) -> caf::result<std::string> { return self->state.core->nccl_id(); },
      [=](nccl_join_atom, const std::string& id, uint32_t rank,
          uint32_t world) -> caf::result<uint32_t> {
        if (auto err = self->state.core->nccl_join(id, rank, world))
          return err;
        return rank;
      },
      [=](all_reduce_atom, const tensor_bytes& in) -> caf::result<tensor_bytes> {
        return self->state.core->all_reduce(in);
      },
      [=](run_job_atom, const device_job& job) -> caf::result<double> {
        auto& core = *self->state.core;
        const auto start = std::chrono::steady_clock::now();
        try {
          const kernels::job_stream_scope on_streams(core.streams());
          (*job.run)(core.info());
        } catch (const std::exception& e) {
          // A job reports its own errors; an exception escaping it is a bug, not a reason
          // to take the device (and every model on it) down.
          return make_llmos_error(error_code::kernel_failed, "device '" + core.info().name +
                                                                 "': job '" + job.what +
                                                                 "' threw: " + e.what());
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        core.record_job(seconds);
        return seconds;
      },
      [=](gelu_atom, const tensor_bytes& in) -> caf::result<tensor_bytes> {
        return self->state.core->gelu(in);
      },
  };
}

} // namespace

device_actor spawn_device(caf::actor_system& system, device_core core) {
  return spawn_worker(system, device_behavior, std::move(core));
}

namespace {

/// The keys a topology may give a device actor.
const std::vector<config_field> device_fields = {
    optional_key("type", config_type::string, "cpu", "cpu or cuda", {"cpu", "cuda"}),
    optional_key("index", config_type::integer, "0", "GPU index for type=cuda"),
    optional_key("threads", config_type::integer, "1", "CPU threads the device may use"),
};

caf::expected<caf::actor> spawn_from_config(spawn_context& ctx) {
  // Bounded before narrowing: stoi/stoul on the schema's long longs threw out_of_range inside
  // the node manager (taking it down) or wrapped -1 to 4294967295.
  auto index = config_integer(ctx.config, "index", 0, std::numeric_limits<int>::max());
  if (!index)
    return std::move(index.error());
  auto threads = config_integer(ctx.config, "threads", 1, std::numeric_limits<uint32_t>::max());
  if (!threads)
    return std::move(threads.error());
  auto core = device_core::create(ctx.name, ctx.config["type"], static_cast<int>(*index),
                                  static_cast<uint32_t>(*threads));
  if (!core)
    return std::move(core.error());
  return caf::actor_cast<caf::actor>(spawn_device(ctx.system, std::move(*core)));
}

} // namespace

actor_kind device_kind() {
  return {"device", "a compute device (CPU thread pool or one GPU) that runs kernels",
          device_fields, spawn_from_config};
}

caf::expected<device_actor> find_local_device(const spawn_context& ctx, const std::string& who) {
  const auto& name = ctx.config.at("device");
  auto handle = ctx.find_local ? ctx.find_local(name, "device") : caf::actor{};
  if (!handle)
    return make_llmos_error(error_code::bad_config,
                            who + " '" + ctx.name + "': config key 'device': node '" + ctx.node +
                                "' hosts no device actor '" + name +
                                "' (declare the device before the " + who + ")");
  return caf::actor_cast<device_actor>(handle);
}

} // namespace llmos
