#include "bench_rpc.hpp"

#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"

namespace llmos::bench {

nlohmann::json call(uint16_t rpc, const nlohmann::json& params, std::chrono::seconds timeout) {
  rpc::client c;
  if (auto err = c.connect("127.0.0.1", rpc, std::chrono::seconds(2)))
    return nlohmann::json{{"error", describe(err)}};
  auto r = c.call("send", params, timeout);
  if (!r)
    return nlohmann::json{{"error", describe(r.error())}};
  if (!r->ok)
    return nlohmann::json{{"error", r->value}};
  return r->value;
}

} // namespace llmos::bench
