// The one error-code enum of llmos, registered with CAF under the category "llmos" so that
// errors cross node boundaries with their code and context intact. Every fallible function in
// the project returns caf::expected<T> or caf::error built from these codes; the context
// string names the file, line, field or actor and says what to do.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace llmos {

/// Error codes carried in caf::error with category "llmos". Append only: values are on the wire.
enum class error_code : uint8_t {
  none = 0,
  bad_topology = 1,      ///< topology file refused (context: file:line: what and the fix)
  unknown_kind = 2,      ///< spawn or topology names an actor kind nobody registered
  bad_config = 3,        ///< an actor config key is unknown or has the wrong type
  duplicate_name = 4,    ///< an actor or node name is already taken
  no_such_actor = 5,     ///< directory lookup failed
  no_such_node = 6,      ///< a node name not in the topology
  no_such_method = 7,    ///< msgpack-RPC method or actor method not in the gateway table
  bad_params = 8,        ///< msgpack-RPC parameters of the wrong shape or type
  unauthorized = 9,      ///< state-changing call without a valid auth token
  node_unreachable = 10, ///< a peer node is lost or not yet connected
  malformed_frame = 11,  ///< msgpack-RPC frame that is not [0, msgid, method, params]
  frame_too_large = 12,  ///< msgpack-RPC frame above the configured limit
  kernel_failed = 13,    ///< a compute kernel refused its input or failed on the device
  bad_option = 14,       ///< command-line option error
  io_failed = 15,        ///< a file or socket operation failed
  not_found = 16,        ///< a model, version, alias or route that does not exist
  overloaded = 17,       ///< a bounded queue is full: retry later (HTTP 429)
  unavailable = 18,      ///< nothing can serve the call now, e.g. no replica (HTTP 503)
};

/// Human-readable name of an error code (used by CAF's error renderer).
std::string to_string(error_code code);

/// The CAF error category atom of llmos errors (at most 10 characters).
inline constexpr caf::atom_value error_category = caf::atom("llmos");

} // namespace llmos

CAF_ERROR_CODE_ENUM(llmos::error_code, "llmos")

namespace llmos {

/// Builds a caf::error with code and a context message for the user.
inline caf::error make_llmos_error(error_code code, std::string context) {
  return caf::make_error(code, std::move(context));
}

/// The context string of an error (what make_llmos_error stored), or its rendered code.
std::string describe(const caf::error& err);

} // namespace llmos
