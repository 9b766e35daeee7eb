// Gateway methods of the "model" actor kind (see model_methods.cpp).
#pragma once

#include "llmos/actors/method_table.hpp"

namespace llmos {

/// Adds model train, evaluate, infer, generate, info, save, load and quantize to `t`.
void add_model_methods(method_table& t);

} // namespace llmos
