// The feedback analyst kind's gateway methods: feedback, status (the analysis and the loop) and
// history (every decision of the loop).
#pragma once

#include "llmos/actors/method_table.hpp"

namespace llmos {

void add_feedback_methods(method_table& t);

} // namespace llmos
