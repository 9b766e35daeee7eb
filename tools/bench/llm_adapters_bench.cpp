#include "llm_adapters_bench.hpp"

#include <cstdio>
#include <memory>
#include <vector>

#include "bench_stats.hpp"
#include "llm_decode_run.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/llama_weights.hpp"
#include "model/train/engine.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::bench {
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
    plain.push_back(run_decoder(base, {}, {}, sequences, tokens).tps);
    adapted.push_back(run_decoder(base, {}, taken, sequences, tokens).tps);
  }
  const double p = percentile(plain, 0.5), a = percentile(adapted, 0.5);
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
