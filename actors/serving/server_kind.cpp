// The "server" actor kind: its config keys, read and checked into a server_config.
#include <map>
#include <string>

#include "device/device_actor.hpp"
#include "llmos/messages/error.hpp"
#include "model/decoding_config.hpp"
#include "serving/core/adapter_list.hpp"
#include "serving/server_actor.hpp"
#include "serving/server_state.hpp"

namespace llmos {
namespace {

/// The keys a topology may give a server (a table, read when the kind is registered).
const std::vector<config_field> server_fields = {
    required_key("model", config_type::string, "registry model name (the HTTP route)"),
    optional_key("registry", config_type::string, "registry", "registry actor name"),
    optional_key("version", config_type::string, "production",
                 "alias to follow, or 3 / v3 / latest"),
    optional_key("replicas", config_type::integer, "1",
                 "model replicas, each on a CPU device of its own (or all on `device`)"),
    optional_key("threads", config_type::integer, "1", "CPU threads of each replica's device"),
    optional_key(
        "device", config_type::string, "",
        "a device actor of this node every replica computes on (a GPU: type cuda), declared "
        "before the server"),
    optional_key("max_batch", config_type::integer, "32", "rows per forward pass at most"),
    optional_key("max_delay_us", config_type::integer, "2000",
                 "longest wait of a row for its batch"),
    optional_key("queue_limit", config_type::integer, "1024", "rows queued per replica at most"),
    optional_key("routing", config_type::string, "least_outstanding", "replica choice",
                 {"least_outstanding", "power_of_two"}),
    optional_key("feedback", config_type::string, "",
                 "feedback analyst actor that gets the request log (\"\" = none)"),
    optional_key("log_sample", config_type::number, "1.0", "share of requests logged (0..1)"),
    optional_key(
        "adapters", config_type::string, "",
        "language replicas: LoRA fine-tunes of the model served as adapters over it, "
        "comma-separated registry names (NAME or NAME@VERSION); requests choose by model name"),
};

struct limit {
  const char* key;
  long long lo, hi;
  uint32_t* out;
};

/// Reads each integer key within its bounds into its place.
caf::error read_limits(const std::map<std::string, std::string>& config,
                       std::initializer_list<limit> limits) {
  for (auto [key, lo, hi, out] : limits) {
    auto v = config_integer(config, key, lo, hi);
    if (!v)
      return std::move(v.error());
    *out = static_cast<uint32_t>(*v);
  }
  return {};
}

/// Replicas, threads, batching and routing.
caf::error read_batching(spawn_context& ctx, serving::server_config& cfg) {
  uint32_t max_batch = 0, delay = 0, queue = 0;
  if (auto err = read_limits(ctx.config, {{"replicas", 1, 64, &cfg.replicas},
                                          {"threads", 1, 1024, &cfg.threads},
                                          {"max_batch", 1, 4096, &max_batch},
                                          {"max_delay_us", 0, 10000000, &delay},
                                          {"queue_limit", 1, 1000000, &queue}}))
    return err;
  cfg.batching.max_batch = max_batch;
  cfg.batching.max_delay = std::chrono::microseconds{delay};
  cfg.batching.queue_limit = queue;
  if (auto err = serving::validate(cfg.batching))
    return make_llmos_error(error_code::bad_config, describe(err));
  auto routing = serving::parse_routing_policy(ctx.config["routing"]);
  if (!routing)
    return std::move(routing.error());
  cfg.routing = *routing;
  return {};
}

/// The language replicas' decoder (KV cache, prefill, queue: the model kind's keys, passed on
/// to each replica) and adapters.
caf::error read_decoding(spawn_context& ctx, serving::server_config& cfg) {
  // Checked here, so that a bad value is refused when the server starts, not at each replica.
  if (auto decoding = llmos::read_decoding(ctx.config); !decoding)
    return std::move(decoding.error());
  cfg.replica_keys = decoding_keys(ctx.config);
  auto adapters = serving::parse_adapters(ctx.config["adapters"], cfg.model);
  if (!adapters)
    return std::move(adapters.error());
  cfg.adapters = std::move(*adapters);
  return {};
}

caf::expected<caf::actor> spawn_from_config(spawn_context& ctx) {
  serving::server_config cfg;
  cfg.name = ctx.name;
  cfg.model = ctx.config["model"];
  cfg.registry = ctx.config["registry"];
  cfg.version = ctx.config["version"];
  cfg.manager = ctx.manager;
  if (const auto& device = ctx.config["device"]; !device.empty()) {
    // Looked up here only to refuse a device the node does not host; replicas name it.
    if (auto handle = find_local_device(ctx, "server"); !handle)
      return std::move(handle.error());
    cfg.device_name = device;
  }
  cfg.feedback = ctx.config["feedback"];
  cfg.log_sample = std::stod(ctx.config["log_sample"]);
  if (cfg.log_sample < 0.0 || cfg.log_sample > 1.0)
    return make_llmos_error(error_code::bad_config,
                            "config key 'log_sample' must be from 0 to 1, got " +
                                ctx.config["log_sample"]);
  if (auto err = read_batching(ctx, cfg))
    return err;
  if (auto err = read_decoding(ctx, cfg))
    return err;
  return spawn_server(ctx.system, std::move(cfg));
}

} // namespace

actor_kind server_kind() {
  return {"server",
          "serves a registry model (an alias or a version) on replicas with dynamic batching",
          joined(server_fields, decoding_fields()), spawn_from_config};
}

} // namespace llmos
