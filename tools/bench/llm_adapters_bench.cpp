#include "llm_adapters_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "llmos/messages/error.hpp"
#include "model/formats/llama_weights.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::bench {
namespace {

/// Generated tokens per second of one decoder run over `sequences` sequences, each under
/// adapter i % adapters (-1: none).
double decode_tps(model::engine& base,
                  const std::vector<std::shared_ptr<const model::lora_adapter>>& adapters,
                  int sequences, int tokens) {
  auto dec = model::batch_decoder::create(base);
  if (!dec)
    return 0.0;
  for (const auto& a : adapters)
    if (!(*dec)->add_adapter(a))
      return 0.0;
  for (int i = 0; i < sequences; ++i) {
    model::sequence_request r;
    r.max_new = tokens;
    r.sampling.temperature = 0.0;
    r.adapter = adapters.empty() ? -1 : i % static_cast<int>(adapters.size());
    if (!(*dec)->admit(r))
      return 0.0;
  }
  std::size_t made = 0;
  const auto start = std::chrono::steady_clock::now();
  while ((*dec)->active() > 0) {
    auto events = (*dec)->step();
    if (!events)
      return 0.0;
    for (const auto& ev : *events)
      made += ev.token >= 0 ? 1 : 0;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s > 0 ? static_cast<double>(made) / s : 0.0;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0.0 : xs[xs.size() / 2];
}

} // namespace

bool adapters_round(const model::llama_weights& w, model::engine& base, int sequences, int tokens,
                    int adapters, int rank, int rounds, nlohmann::json& out) {
  // Fine-tunes with fresh adapters (A random, B zero: the arithmetic of trained ones).
  std::vector<std::shared_ptr<const model::lora_adapter>> taken;
  for (int i = 0; i < adapters; ++i) {
    auto tuned = model::engine::from_llama(w, "tuned");
    if (!tuned)
      return false;
    auto spec = (*tuned)->spec();
    spec.lora_rank = rank;
    if ((*tuned)->fine_tune("lora", spec, model::label_vocab{}))
      return false;
    auto a = model::lora_adapter::extract(base, **tuned, "a" + std::to_string(i));
    if (!a) {
      std::fprintf(stderr, "llmos-bench llm: adapters: %s\n", describe(a.error()).c_str());
      return false;
    }
    taken.push_back(*a);
  }
  std::vector<double> plain, adapted;
  for (int r = 0; r < rounds; ++r) { // interleaved, so that both see the same machine
    plain.push_back(decode_tps(base, {}, sequences, tokens));
    adapted.push_back(decode_tps(base, taken, sequences, tokens));
  }
  const double p = median(plain), a = median(adapted);
  if (p <= 0 || a <= 0)
    return false;
  std::printf("\nadapters: %d sequences decoded together, %d tokens each: %.0f tok/s without "
              "adapters, %.0f tok/s spread over %d rank-%d adapters (%.2fx)\n",
              sequences, tokens, p, a, adapters, rank, a / p);
  out["adapters_batch_sequences"] = sequences;
  out["adapters_count"] = adapters;
  out["adapters_rank"] = rank;
  out["adapters_decode_tps_base"] = p;
  out["adapters_decode_tps_mixed"] = a;
  out["adapters_decode_ratio"] = a / p;
  return true;
}

} // namespace llmos::bench
