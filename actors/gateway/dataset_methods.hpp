// Gateway methods of the "dataset" actor kind (see dataset_methods.cpp).
#pragma once

#include "llmos/actors/method_table.hpp"

namespace llmos {

/// Adds dataset ingest, stats, sample, quarantine, open_stream and next_batch to `t`.
void add_dataset_methods(method_table& t);

} // namespace llmos
