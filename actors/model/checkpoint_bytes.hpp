// A model's checkpoint as bytes, for packages that cross nodes (registry publish). The engine
// writes checkpoints only to files (atomically), so the bytes go through a private temp file.
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "model/train/engine.hpp"

namespace llmos::model {

/// The bytes of `e.save()`; io_failed names the temp path when the disk refuses.
caf::expected<std::string> checkpoint_bytes(const engine& e);

} // namespace llmos::model
