#include "llm_decode_run.hpp"

#include <chrono>
#include <cstdint>

#include "model/train/engine.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::bench {

decode_run run_decoder(model::engine& base, const model::decoder_config& cfg,
                       const std::vector<std::shared_ptr<const model::lora_adapter>>& adapters,
                       int sequences, int tokens, double temperature) {
  auto dec = model::batch_decoder::create(base, cfg);
  if (!dec)
    return {};
  for (const auto& a : adapters)
    if (!(*dec)->add_adapter(a))
      return {};
  for (int i = 0; i < sequences; ++i) {
    model::sequence_request r;
    r.max_new = tokens;
    r.sampling.temperature = temperature;
    r.seed = static_cast<uint64_t>(i) + 1;
    r.adapter = adapters.empty() ? -1 : i % static_cast<int>(adapters.size());
    if (!(*dec)->admit(r))
      return {};
  }
  std::size_t made = 0;
  const auto start = std::chrono::steady_clock::now();
  while ((*dec)->active() > 0) {
    auto events = (*dec)->step();
    if (!events)
      return {};
    for (const auto& ev : *events)
      made += ev.token >= 0 ? 1 : 0;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {s > 0 ? static_cast<double>(made) / s : 0.0, (*dec)->stats()};
}

} // namespace llmos::bench
