// The scheduler and tuner kinds' gateway methods (submit, cancel, status, queue, wait; study,
// studies, best, stop).
#pragma once

#include "llmos/actors/method_table.hpp"

namespace llmos {

void add_scheduler_methods(method_table& t);

} // namespace llmos
