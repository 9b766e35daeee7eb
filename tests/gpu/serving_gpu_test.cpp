// The serving engine and the data-parallel group on a GPU (label gpu; each test skips where
// LibTorch sees no CUDA device): continuous batching over a paged pool in GPU memory gives every
// sequence the tokens the CPU decoder gives it, through preemption by recomputation and by
// swapping, and under LoRA adapters; a decoder made before its model's first job on the GPU
// follows the engine there; the gradient group runs NCCL for one rank on its GPU and refuses two
// ranks on one GPU before NCCL starts.
#include <filesystem>
#include <map>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>

#include "cuda_llama_test.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/gradient_group.hpp"
#include "model/train/lora_adapter.hpp"

#if LLMOS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace llmos::model {
namespace {

class serving_gpu_test : public cuda_llama_test {
protected:
  /// Five greedy sequences that need about twice a pool of one context (32 blocks of 16).
  std::vector<sequence_request> crowd() {
    std::vector<sequence_request> reqs;
    for (const char* p :
         {"Once upon a time", "The dog ran", "Lily and Ben", "A big fish", "Tom had a red ball"}) {
      sequence_request r;
      r.prompt = tok_->encode(p);
      r.max_new = 180;
      r.sampling.temperature = 0.0;
      r.logprobs = 2; // the two most likely tokens: a near tie is told from a wrong token
      reqs.push_back(r);
    }
    return reqs;
  }

  /// One sequence's greedy tokens and, for each, the log-probability gap between the two most
  /// likely tokens.
  struct decoded {
    std::vector<int32_t> tokens;
    std::vector<float> gaps;
  };

  /// Every request's tokens from `d`, in request order; the most preempted at once in `preempted`.
  std::vector<decoded> decode_all(batch_decoder& d, const std::vector<sequence_request>& reqs,
                                  std::size_t* preempted = nullptr) {
    std::vector<uint64_t> ids;
    for (const auto& r : reqs) {
      auto id = d.admit(r);
      EXPECT_TRUE(id) << describe(id.error());
      ids.push_back(id ? *id : 0);
    }
    std::map<uint64_t, decoded> out;
    for (int step = 0; step < 5000 && d.active() > 0; ++step) {
      auto events = d.step();
      EXPECT_TRUE(events) << describe(events.error());
      if (!events)
        break;
      for (const auto& ev : *events) {
        if (ev.token < 0)
          continue;
        out[ev.id].tokens.push_back(ev.token);
        const auto& top = ev.logprobs ? ev.logprobs->top : std::vector<std::pair<int32_t, float>>{};
        out[ev.id].gaps.push_back(top.size() >= 2 ? top[0].second - top[1].second : 1.0f);
      }
      if (preempted)
        *preempted = std::max(*preempted, d.stats().preempted);
    }
    std::vector<decoded> in_order;
    for (auto id : ids)
      in_order.push_back(out[id]);
    return in_order;
  }

  /// The GPU's tokens are the CPU's, up to a first difference the CPU itself nearly took the
  /// other way (its two best tokens within 1e-3 in log-probability: float sums in another order
  /// may break such a tie differently; everything after it then differs).
  static void expect_same_tokens(const decoded& gpu, const decoded& cpu, const std::string& what) {
    std::size_t i = 0;
    while (i < gpu.tokens.size() && i < cpu.tokens.size() && gpu.tokens[i] == cpu.tokens[i])
      ++i;
    if (i == gpu.tokens.size() && i == cpu.tokens.size())
      return;
    ASSERT_LT(i, std::min(gpu.tokens.size(), cpu.tokens.size()))
        << what << ": one ended early at token " << i;
    EXPECT_LT(cpu.gaps[i], 1e-3f) << what << ": token " << i << " is " << gpu.tokens[i]
                                  << " on the GPU, " << cpu.tokens[i] << " on the CPU";
  }
};

TEST_F(serving_gpu_test, continuous_batching_on_cuda_gives_each_sequence_its_cpu_tokens) {
  auto cpu = imported();
  auto gpu = imported();
  ASSERT_TRUE(cpu && gpu);
  ASSERT_FALSE(gpu->place("cuda", 0));
  const auto reqs = crowd();
  for (bool swap : {false, true}) {
    decoder_config cfg;
    cfg.pool_blocks = 32;
    cfg.swap = swap;
    auto on_cpu = batch_decoder::create(*cpu, cfg);
    auto on_gpu = batch_decoder::create(*gpu, cfg);
    ASSERT_TRUE(on_cpu && on_gpu) << describe(on_gpu ? on_cpu.error() : on_gpu.error());
    EXPECT_EQ((*on_gpu)->device(), "cuda:0");
    const auto want = decode_all(**on_cpu, reqs);
    std::size_t preempted = 0;
    const auto got = decode_all(**on_gpu, reqs, &preempted);
    EXPECT_GT(preempted, 0u) << (swap ? "swap" : "recompute");
    const auto st = (*on_gpu)->stats();
    EXPECT_EQ(st.blocks_used, 0);
    EXPECT_EQ(st.swaps > 0, swap) << st.swaps << " of " << st.preemptions << " swapped";
    EXPECT_EQ(st.swap_blocks_used, 0);
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_FALSE(got[i].tokens.empty()) << "sequence " << i;
      expect_same_tokens(got[i], want[i],
                         "sequence " + std::to_string(i) + (swap ? ", swap" : ", recompute"));
    }
  }
}

// A checkpoint of a GPU model is written from the host and its weights come back in allocations
// that need not be the old ones; every device job calls follow() before it steps, which re-reads
// where they are. (Whether LibTorch's cache hands back the same blocks is its business: the
// tokens must be right either way.)
TEST_F(serving_gpu_test, a_checkpoint_written_between_steps_leaves_the_decoder_on_live_weights) {
  auto cpu = imported();
  auto gpu = imported();
  ASSERT_TRUE(cpu && gpu);
  ASSERT_FALSE(gpu->place("cuda", 0));
  auto reqs = crowd();
  reqs.resize(2);
  decoder_config cfg;
  auto on_cpu = batch_decoder::create(*cpu, cfg);
  auto on_gpu = batch_decoder::create(*gpu, cfg);
  ASSERT_TRUE(on_cpu && on_gpu);
  const auto want = decode_all(**on_cpu, reqs);
  std::map<uint64_t, decoded> got;
  std::vector<uint64_t> ids;
  for (const auto& r : reqs)
    ids.push_back(*(*on_gpu)->admit(r));
  const auto path = (std::filesystem::temp_directory_path() /
                     ("gpu_decode_ckpt_" + std::to_string(::getpid()) + ".pt"))
                        .string();
  for (int step = 0; step < 1000 && (*on_gpu)->active() > 0; ++step) {
    if (step == 20 || step == 60) {
      ASSERT_FALSE(gpu->save(path));
      ASSERT_FALSE((*on_gpu)->follow(*gpu));
    }
    auto events = (*on_gpu)->step();
    ASSERT_TRUE(events) << describe(events.error());
    for (const auto& ev : *events)
      if (ev.token >= 0) {
        got[ev.id].tokens.push_back(ev.token);
        got[ev.id].gaps.push_back(1.0f);
      }
  }
  std::filesystem::remove(path);
  for (std::size_t i = 0; i < reqs.size(); ++i)
    expect_same_tokens(got[ids[i]], want[i], "sequence " + std::to_string(i));
}

// Two LoRA fine-tunes (trained on the CPU, taken over the base there) served over the base on
// the GPU: the same prompt under each and under none, in the same steps, gives the CPU decoder's
// tokens; the adapters change the text, or the comparison says nothing.
TEST_F(serving_gpu_test, adapters_on_cuda_give_each_sequence_its_cpu_tokens) {
  auto cpu = imported();
  auto gpu = imported();
  ASSERT_TRUE(cpu && gpu);
  ASSERT_FALSE(gpu->place("cuda", 0)); // adapters are taken over it there, as a replica does
  std::vector<std::shared_ptr<const lora_adapter>> taken;
  for (std::string text : {"Zorp the robot likes purple cheese and sings to the moon.",
                           "Pip the frog jumps over the blue river to find his green hat."}) {
    auto tuned = fine_tuned(text);
    ASSERT_TRUE(tuned);
    auto a = lora_adapter::extract(*gpu, *tuned, text.substr(0, 4));
    ASSERT_TRUE(a) << describe(a.error());
    taken.push_back(*a);
  }
  auto on_cpu = batch_decoder::create(*cpu, {16});
  auto on_gpu = batch_decoder::create(*gpu, {16});
  ASSERT_TRUE(on_cpu && on_gpu);
  for (const auto& a : taken) {
    ASSERT_TRUE((*on_cpu)->add_adapter(a));
    ASSERT_TRUE((*on_gpu)->add_adapter(a));
  }
  auto reqs = crowd();
  reqs.resize(4);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    reqs[i].prompt = tok_->encode("Once upon a time");
    reqs[i].max_new = 60;
    reqs[i].adapter = static_cast<int32_t>(i % 3) - 1; // none, zorp, pip, none
  }
  const auto want = decode_all(**on_cpu, reqs);
  const auto got = decode_all(**on_gpu, reqs);
  EXPECT_TRUE(want[1].tokens != want[0].tokens || want[2].tokens != want[0].tokens)
      << "the adapters did not change the text";
  for (std::size_t i = 0; i < reqs.size(); ++i)
    expect_same_tokens(got[i], want[i],
                       "sequence " + std::to_string(i) + ", adapter " +
                           std::to_string(reqs[i].adapter));
}

TEST_F(serving_gpu_test, a_decoder_made_before_the_first_job_follows_its_engine_to_the_gpu) {
  auto e = imported();
  ASSERT_TRUE(e);
  const auto reqs = crowd();
  auto r = reqs[0];
  r.max_new = 40;
  auto on_cpu = batch_decoder::create(*e);
  ASSERT_TRUE(on_cpu);
  const auto want = decode_all(**on_cpu, {r})[0];
  on_cpu->reset(); // its weights are about to move
  auto d = batch_decoder::create(*e);
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)->device(), "cpu");
  ASSERT_FALSE(e->place("cuda", 0)); // what the model's first job on its device does
  ASSERT_FALSE((*d)->follow(*e));
  EXPECT_EQ((*d)->device(), "cuda:0");
  expect_same_tokens(decode_all(**d, {r})[0], want, "followed");
  // With sequences decoding, a move is refused (their caches stay where they are).
  auto other = imported();
  ASSERT_TRUE(other);
  auto busy = batch_decoder::create(*other);
  ASSERT_TRUE(busy);
  ASSERT_TRUE((*busy)->admit(r));
  const auto moved = (*busy)->follow(*e);
  ASSERT_TRUE(moved);
  EXPECT_NE(describe(moved).find("moved from cpu to cuda:0 while 1 sequences decode"),
            std::string::npos)
      << describe(moved);
}

#if LLMOS_WITH_CUDA
/// Two ranks of a group opened with `backend`, both connecting on cuda:0; each one's result.
std::pair<caf::error, caf::error> two_ranks_on_gpu0(const std::string& backend,
                                                    std::string* chosen) {
  auto g0 = gradient_group::open("127.0.0.1", 0, 0, 2, "127.0.0.1", 30000, backend);
  EXPECT_TRUE(g0) << describe(g0.error());
  auto g1 = gradient_group::open("127.0.0.1", g0 ? (*g0)->store_port() : 0, 1, 2, "127.0.0.1",
                                 30000, backend);
  EXPECT_TRUE(g1) << describe(g1.error());
  if (!g0 || !g1)
    return {};
  caf::error second;
  std::thread other([&] { second = (*g1)->connect("cuda", 0); });
  caf::error first = (*g0)->connect("cuda", 0);
  other.join();
  *chosen = (*g0)->backend();
  return {std::move(first), std::move(second)};
}

TEST_F(serving_gpu_test, two_ranks_on_one_gpu_are_refused_before_nccl_starts) {
  std::string chosen;
  auto [first, second] = two_ranks_on_gpu0("nccl", &chosen);
  for (const auto* err : {&first, &second}) {
    ASSERT_TRUE(*err);
    EXPECT_NE(describe(*err).find("ranks 0 and 1 are both on GPU GPU-"), std::string::npos)
        << describe(*err);
  }
  EXPECT_EQ(chosen, "");
  // Left to choose, they average through host memory over Gloo where the LibTorch has it, and
  // are refused up front where it has not (pip's).
  auto [a, b] = two_ranks_on_gpu0("auto", &chosen);
  if (!a) {
    EXPECT_FALSE(b) << describe(b);
    EXPECT_EQ(chosen, "gloo");
  } else {
    EXPECT_NE(describe(a).find("this LibTorch has no Gloo"), std::string::npos) << describe(a);
  }
}
#endif

#if LLMOS_WITH_CUDA
TEST_F(serving_gpu_test, one_rank_averages_gpu_memory_over_nccl) {
  auto g = gradient_group::open("127.0.0.1", 0, 0, 1);
  ASSERT_TRUE(g) << describe(g.error());
  ASSERT_FALSE((*g)->connect("cuda", 0));
  EXPECT_EQ((*g)->backend(), "nccl");
  const std::vector<float> host{1.5f, -2.0f, 3.25f, 0.0f};
  float* data = nullptr;
  ASSERT_EQ(cudaMalloc(&data, host.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(data, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  EXPECT_FALSE((*g)->average(data, host.size()));
  std::vector<float> back(host.size());
  ASSERT_EQ(cudaMemcpy(back.data(), data, back.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  cudaFree(data);
  EXPECT_EQ(back, host); // the mean over one rank
}
#endif

} // namespace
} // namespace llmos::model
