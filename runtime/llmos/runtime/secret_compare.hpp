// Comparing a secret a client sent with the one configured, in a time that does not depend on
// where they first differ: an early-exit comparison (std::string's ==) lets an attacker time
// byte after byte of a token. Used for the RPC auth token and the HTTP admin token.
#pragma once

#include <string_view>

namespace llmos {

/// True when `given` equals `expected`; the time taken depends only on given's length. An empty
/// `expected` matches nothing.
bool secrets_equal(std::string_view expected, std::string_view given);

} // namespace llmos
