#include "model/decoding_config.hpp"

#include "llmos/messages/error.hpp"

namespace llmos {

const std::vector<config_field>& decoding_fields() {
  static const std::vector<config_field> fields = {
      optional_key("kv_block_size", config_type::integer, "16",
                   "language models: positions per KV cache block"),
      optional_key("kv_blocks", config_type::integer, "0",
                   "language models: KV cache blocks (0: from kv_bytes)"),
      optional_key("kv_bytes", config_type::integer, "0",
                   "language models: KV cache bytes (both 0: 64 contexts or 256 MiB, the smaller)"),
      optional_key("kv_swap", config_type::boolean, "false",
                   "language models: preempted generations keep their cache in host memory (else "
                   "recompute it)"),
      optional_key("kv_swap_bytes", config_type::integer, "0",
                   "language models: host memory for swapped caches, pinned on a GPU (0: as much "
                   "as the KV cache, at most 4 GiB); a cache that does not fit is recomputed"),
      optional_key("prefill_chunk", config_type::integer, "64",
                   "language models: prompt tokens per decode step"),
      optional_key("continuous_batching", config_type::boolean, "true",
                   "language models: decode requests together (false: one at a time, a baseline)"),
      optional_key("generate_queue", config_type::integer, "256",
                   "language models: generations waiting at most (then overloaded, HTTP 429)"),
  };
  return fields;
}

caf::expected<decoding_settings> read_decoding(const std::map<std::string, std::string>& config) {
  decoding_settings out;
  auto block_size = config_integer(config, "kv_block_size", 1, 4096);
  auto blocks = config_integer(config, "kv_blocks", 0, 1LL << 30);
  auto bytes = config_integer(config, "kv_bytes", 0, 1LL << 50);
  auto prefill = config_integer(config, "prefill_chunk", 1, 1LL << 20);
  auto queue = config_integer(config, "generate_queue", 1, 1000000);
  auto swap_bytes = config_integer(config, "kv_swap_bytes", 0, 1LL << 50);
  for (auto* v : {&block_size, &blocks, &bytes, &prefill, &queue, &swap_bytes})
    if (!*v)
      return std::move(v->error());
  out.decoder.block_size = static_cast<int32_t>(*block_size);
  out.decoder.pool_blocks = *blocks;
  out.decoder.pool_bytes = *bytes;
  out.decoder.prefill_chunk = *prefill;
  out.decoder.swap_bytes = *swap_bytes;
  auto flag = [&](const char* key, bool fallback) {
    auto i = config.find(key);
    return i == config.end() ? fallback : i->second == "true";
  };
  out.decoder.swap = flag("kv_swap", false);
  out.decoder.continuous = flag("continuous_batching", true);
  out.generate_queue = static_cast<uint32_t>(*queue);
  return out;
}

std::map<std::string, std::string> decoding_keys(const std::map<std::string, std::string>& config) {
  std::map<std::string, std::string> out;
  for (const auto& field : decoding_fields())
    if (auto i = config.find(field.key); i != config.end())
      out.emplace(i->first, i->second);
  return out;
}

} // namespace llmos
