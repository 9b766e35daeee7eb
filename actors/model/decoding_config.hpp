// A language model's decoding settings as actor-kind config keys (the paged KV cache, prompt
// chunks, continuous batching, the queue of waiting generations). The model kind has them; the
// server kind has them too and passes them on to the replicas it spawns as model actors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "llmos/runtime/actor_kinds.hpp"
#include "model/train/batch_decoder.hpp"

namespace llmos {

struct decoding_settings {
  model::decoder_config decoder;
  uint32_t generate_queue = 256; ///< generations waiting at most (then overloaded)
};

/// The decoding keys with their defaults and help.
const std::vector<config_field>& decoding_fields();

/// The settings of a checked config (defaults filled in); bad_config naming a key out of range.
caf::expected<decoding_settings> read_decoding(const std::map<std::string, std::string>& config);

/// Only the decoding keys of `config`: what a server gives the model actors it spawns.
std::map<std::string, std::string> decoding_keys(const std::map<std::string, std::string>& config);

} // namespace llmos
