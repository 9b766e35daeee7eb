#include "llmos/runtime/secret_compare.hpp"

namespace llmos {

bool secrets_equal(std::string_view expected, std::string_view given) {
  if (expected.empty())
    return false;
  // Every byte of `given` is compared (against expected, cycled), so neither a mismatch's
  // position nor expected's length shows in the time taken.
  unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i % expected.size()] ^ given[i]);
  return diff == 0 && !given.empty();
}

} // namespace llmos
