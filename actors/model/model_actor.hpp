// The model actor: serves the model conversation (messages/model.hpp) for one replica. Its
// state is an engine (train/engine.hpp) that only the device's thread touches: every train
// step, evaluation, inference and generation is a job sent to the device actor, so a model
// never blocks CAF's scheduler and never competes with another model for the cores.
#pragma once

#include <caf/fwd.hpp>

#include "llmos/messages/device.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/runtime/actor_kinds.hpp"
#include "model/core/model_spec.hpp"
#include "model/train/batch_decoder.hpp"

namespace llmos {

/// Spawns a model actor for `spec` whose compute runs on `device` (named `device_name`);
/// language models batch their generations with `decoding`'s KV cache and refuse (overloaded)
/// beyond `max_waiting` requests waiting for it.
model_actor spawn_model(caf::actor_system& system, model::model_spec spec, device_actor device,
                        std::string device_name = "", const model::decoder_config& decoding = {},
                        std::size_t max_waiting = 256);

/// The "model" actor kind: config spec (YAML path), threads (of its CPU device).
actor_kind model_kind();

} // namespace llmos
