// Several LoRA fine-tunes of the shared pretrained model served as adapters over one base: in one
// batch_decoder, sequences under different adapters (and none) decode in the same steps, and each
// gets exactly what its own fine-tune generates alone; prefixes are shared only under the same
// adapter; what is not adapters of the base is refused by name.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llama_fixture.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/lora_adapter.hpp"

namespace llmos::model {
namespace {

class llama_adapters_test : public llama_test {
protected:
  std::shared_ptr<const lora_adapter> adapter(const engine& base, const engine& tuned,
                                              const std::string& name) {
    auto a = lora_adapter::extract(base, tuned, name);
    EXPECT_TRUE(a) << describe(a.error());
    return a ? *a : nullptr;
  }
};

const char* const zorp = "Zorp the robot likes purple cheese and sings to the moon every night.";
const char* const pip = "Pip the frog jumps over the blue river to find his green hat.";

TEST_F(llama_adapters_test, fine_tunes_batched_together_each_give_their_own_output) {
  auto base = imported();
  auto first = fine_tuned(zorp), second = fine_tuned(pip);
  ASSERT_TRUE(base && first && second);
  auto decoder = batch_decoder::create(*base, {16});
  ASSERT_TRUE(decoder) << describe(decoder.error());
  auto a = adapter(*base, *first, "zorp"), b = adapter(*base, *second, "pip");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->rank, 4);
  auto ia = (*decoder)->add_adapter(a), ib = (*decoder)->add_adapter(b);
  ASSERT_TRUE(ia && ib);

  // The same prompt under the base and both adapters, and another prompt under the first.
  struct job {
    engine* alone;
    int32_t adapter;
    const char* prompt;
  };
  const std::vector<job> jobs{{base.get(), -1, "Once upon a time"},
                              {first.get(), *ia, "Once upon a time"},
                              {second.get(), *ib, "Once upon a time"},
                              {first.get(), *ia, "The robot"}};
  std::map<uint64_t, std::size_t> which;
  std::vector<std::vector<int32_t>> together(jobs.size()), alone;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    sequence_request r;
    r.prompt = tok_->encode(jobs[i].prompt);
    r.max_new = 40;
    r.sampling.temperature = 0.0;
    r.adapter = jobs[i].adapter;
    auto id = (*decoder)->admit(r);
    ASSERT_TRUE(id) << describe(id.error());
    which[*id] = i;
    // Alone: the fine-tune's own engine, adapters unmerged, through LibTorch.
    alone.push_back(greedy(*jobs[i].alone, r.prompt, r.max_new));
  }
  std::size_t widest = 0;
  for (int step = 0; step < 200 && (*decoder)->active() > 0; ++step) {
    auto events = (*decoder)->step();
    ASSERT_TRUE(events) << describe(events.error());
    widest = std::max(widest, (*decoder)->last_batch());
    for (auto& ev : *events)
      if (ev.token >= 0)
        together[which.at(ev.id)].push_back(ev.token);
  }
  EXPECT_EQ(widest, jobs.size()) << "the adapters' sequences never decoded in one step";
  for (std::size_t i = 0; i < jobs.size(); ++i)
    EXPECT_EQ(together[i], alone[i]) << "sequence " << i << " (" << jobs[i].prompt << ")";
  // The fine-tunes learned something different: one prompt, three continuations.
  EXPECT_NE(together[0], together[1]);
  EXPECT_NE(together[1], together[2]);
  // The prompt's blocks are not shared across adapters: other weights, other keys and values.
  EXPECT_EQ((*decoder)->stats().prefix_blocks, 0u);

  sequence_request unknown;
  unknown.adapter = 2;
  auto refused = (*decoder)->admit(unknown);
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("no adapter 2"), std::string::npos);
}

TEST_F(llama_adapters_test, what_is_not_adapters_of_the_base_is_refused_by_name) {
  auto base = imported();
  auto full = fine_tuned(pip, "full");
  ASSERT_TRUE(base && full);
  auto copy = lora_adapter::extract(*base, *imported(), "copy");
  ASSERT_FALSE(copy);
  EXPECT_NE(describe(copy.error()).find("adapter 'copy'"), std::string::npos);
  EXPECT_NE(describe(copy.error()).find("no LoRA adapters"), std::string::npos);
  auto whole = lora_adapter::extract(*base, *full, "whole");
  ASSERT_FALSE(whole);
  EXPECT_NE(describe(whole.error()).find("differs from the base's"), std::string::npos)
      << describe(whole.error());
  // Adapters taken over another base (here: the full fine-tune) are refused too.
  auto other = fine_tuned(zorp);
  ASSERT_TRUE(other);
  auto over_other = lora_adapter::extract(*full, *other, "zorp");
  ASSERT_FALSE(over_other);
  EXPECT_NE(describe(over_other.error()).find("differs from the base's"), std::string::npos);
}

} // namespace
} // namespace llmos::model
