#include "llm_preemption_bench.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "bench_stats.hpp"
#include "llm_decode_run.hpp"

namespace llmos::bench {

bool preemption_round(model::engine& base, int sequences, int tokens, int pool_blocks, int rounds,
                      nlohmann::json& out) {
  struct mode {
    const char* name;
    model::decoder_config cfg;
    std::vector<double> tps;
    decode_run last;
  };
  model::decoder_config roomy, recompute, swap;
  recompute.pool_blocks = swap.pool_blocks = pool_blocks;
  swap.swap = true;
  std::vector<mode> modes{
      {"roomy", roomy, {}, {}}, {"recompute", recompute, {}, {}}, {"swap", swap, {}, {}}};
  for (int r = 0; r < rounds; ++r) // interleaved, so that every mode sees the same machine
    for (auto& m : modes) {
      m.last = run_decoder(base, m.cfg, {}, sequences, tokens, 0.9);
      if (m.last.tps <= 0)
        return false;
      m.tps.push_back(m.last.tps);
    }
  for (auto& m : modes) {
    const std::string key = std::string("preempt_") + m.name;
    out[key + "_tps"] = percentile(m.tps, 0.5);
    out[key + "_preemptions"] = m.last.stats.preemptions;
    out[key + "_swaps"] = m.last.stats.swaps;
  }
  const double all = out["preempt_roomy_tps"], re = out["preempt_recompute_tps"],
               sw = out["preempt_swap_tps"];
  std::printf("\npreemption: %d sampled sequences of %d tokens decoded together: %.0f tok/s with "
              "room for all; in a pool of %d blocks %.0f tok/s recomputing preempted caches "
              "(%.2fx, %llu preemptions), %.0f tok/s swapping them (%.2fx, %llu preemptions, "
              "%llu swapped)\n",
              sequences, tokens, all, pool_blocks, re, re / all,
              static_cast<unsigned long long>(modes[1].last.stats.preemptions), sw, sw / all,
              static_cast<unsigned long long>(modes[2].last.stats.preemptions),
              static_cast<unsigned long long>(modes[2].last.stats.swaps));
  return true;
}

} // namespace llmos::bench
