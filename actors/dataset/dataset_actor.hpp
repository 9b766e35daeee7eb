// The dataset actor: serves the dataset conversation (messages/dataset.hpp) for one pipeline
// file. Ingest runs on a worker of its own (llmos/runtime/worker_threads.hpp) so the actor keeps
// serving the current version; samples and batches come from the version held in memory
// (dataset_view), and an open stream keeps the version it was opened on; streams follow
// batch_streams' credits. The actor kind "dataset" takes config pipeline=PATH.
#pragma once

#include "llmos/messages/dataset.hpp"
#include "llmos/runtime/actor_kinds.hpp"

namespace llmos {

/// The "dataset" actor kind (config: pipeline).
actor_kind dataset_kind();

} // namespace llmos
