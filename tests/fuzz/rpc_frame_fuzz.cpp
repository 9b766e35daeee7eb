// The msgpack-RPC edge as a client's bytes reach it: the frame decoder fed in pieces of varying
// size (TCP cuts anywhere), then every decoded request's params through the accessors the
// methods use and the JSON rendering the REPL and logs use.
#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_target.hpp"
#include "gateway/call_options.hpp"
#include "gateway/rpc_params.hpp"
#include "llmos/runtime/rpc_codec.hpp"

namespace {

void use_params(const msgpack::object& params) {
  (void)llmos::rpc::to_json(params).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const auto count = std::min<std::size_t>(llmos::param_count(params), 8);
  for (std::size_t i = 0; i <= count; ++i) {
    (void)llmos::param_string(params, i, "fuzz", "ARG");
    (void)llmos::param_map(params, i, "fuzz");
    if (auto obj = llmos::param_object(params, i, "fuzz"); obj && *obj)
      (void)llmos::map_get(**obj, "text");
  }
  // The options every method reads (param 2), one by one.
  llmos::call_options o{params, "fuzz"};
  (void)o.whole("limit", 0, 1000);
  (void)o.real("threshold", 0.9);
  (void)o.integer("priority", 0, -1000000, 1000000);
  (void)o.text("model");
  (void)llmos::type_name(params);
}

/// Takes every whole frame out of `d`; false once the stream cannot go on.
bool drain(llmos::rpc::frame_decoder& d) {
  for (;;) {
    auto item = d.next();
    if (std::holds_alternative<std::monostate>(item))
      return true;
    if (auto* req = std::get_if<llmos::rpc::request>(&item))
      use_params(req->params);
    else if (auto* res = std::get_if<llmos::rpc::response>(&item))
      use_params(res->result), use_params(res->error);
    else if (std::get<llmos::rpc::frame_error>(item).fatal)
      return false;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  // The first byte picks the piece size the stream arrives in (1 to 64 bytes, or all at once).
  const std::size_t piece = data[0] == 0 ? size : data[0] % 64 + 1;
  llmos::rpc::limits lim;
  lim.max_frame_bytes = 1u << 20; // the bound, small enough that libFuzzer reaches it
  lim.max_elements = 1u << 12;
  llmos::rpc::frame_decoder decoder{lim};
  const auto text = llmos::fuzz::as_text(data + 1, size - 1);
  for (std::size_t at = 0; at < text.size(); at += piece) {
    const auto part = text.substr(at, piece);
    decoder.feed(part.data(), part.size());
    if (!drain(decoder))
      break;
  }
  return 0;
}
