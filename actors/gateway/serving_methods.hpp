// Gateway methods of the serving kinds: model publish, registry, server and http (see
// serving_methods.cpp).
#pragma once

#include "llmos/actors/method_table.hpp"

namespace llmos {

/// Adds model publish; registry versions, resolve, alias, delete; server status, deploy,
/// unload, predict; http alerts.
void add_serving_methods(method_table& t);

} // namespace llmos
