// Continuous batching under memory pressure on the shared pretrained model (stories260K):
// preempted sequences resume with the text they give alone, their caches recomputed or swapped
// (within a bounded swap space); a higher priority takes lower priorities' blocks; a prompt
// swapped out halfway comes back filling; a sequence coming back waits for free blocks rather
// than preempt its equals.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "llama_fixture.hpp"
#include "llmos/messages/error.hpp"
#include "model/train/batch_decoder.hpp"

namespace llmos::model {
namespace {

/// Five sequences, greedy and sampled, that together need about twice a one-context pool.
std::vector<sequence_request> crowd(const dataset::llama_tokenizer& tok) {
  std::vector<sequence_request> reqs;
  const char* prompts[] = {"Once upon a time", "The dog ran", "Lily and Ben", "A big fish",
                           "Tom had a red ball"};
  for (int i = 0; i < 5; ++i) {
    sequence_request r;
    r.prompt = tok.encode(prompts[i]);
    r.max_new = 180;
    r.sampling.temperature = i % 2 == 0 ? 0.0 : 0.9;
    r.seed = 7 + static_cast<uint64_t>(i);
    reqs.push_back(r);
  }
  return reqs;
}

// Preemption with context save: with a pool of one context (32 blocks of 16), five sequences of
// ~190 positions cannot all run; the newest are preempted and resumed, their cache recomputed or
// swapped to host memory, and every sequence still gives exactly its text alone.
TEST_F(llama_test, preempted_sequences_resume_with_identical_output) {
  auto e = imported();
  ASSERT_TRUE(e);
  const auto reqs = crowd(*tok_);
  std::vector<std::vector<int32_t>> alone;
  for (auto& r : reqs) {
    auto out = e->generate(r.prompt, r.max_new, r.sampling, r.seed, nullptr);
    ASSERT_TRUE(out);
    alone.push_back(*out);
  }
  // Recompute; swap with host room for as many blocks as the pool; swap with room for 13 blocks
  // (stories260K's blocks are 2 x 5 layers x 16 positions x 32 floats: 20480 bytes), where at
  // most one ~190-position cache fits at a time and the others are recomputed.
  const std::pair<bool, int64_t> modes[] = {{false, 0}, {true, 0}, {true, 13 * 20480}};
  for (auto [swap, swap_bytes] : modes) {
    const std::string mode = !swap ? "recompute" : swap_bytes == 0 ? "swap" : "bounded swap";
    decoder_config cfg;
    cfg.pool_blocks = 32;
    cfg.swap = swap;
    cfg.swap_bytes = swap_bytes;
    auto decoder = batch_decoder::create(*e, cfg);
    ASSERT_TRUE(decoder) << describe(decoder.error());
    std::vector<uint64_t> ids;
    for (auto& r : reqs)
      ids.push_back(*(*decoder)->admit(r));
    std::size_t most_preempted = 0;
    auto out = run_all(**decoder, &most_preempted);
    const auto st = (*decoder)->stats();
    EXPECT_GT(st.preemptions, 0u) << mode;
    EXPECT_GT(most_preempted, 0u);
    EXPECT_EQ(st.blocks_used, 0);
    EXPECT_EQ(st.swap_blocks_used, 0) << mode;
    EXPECT_EQ(st.swap_blocks_total, !swap ? 0 : swap_bytes == 0 ? 32 : 13) << mode;
    if (!swap)
      EXPECT_EQ(st.swaps, 0u);
    else if (swap_bytes == 0)
      EXPECT_GT(st.swaps, 0u);
    else
      EXPECT_TRUE(st.swaps > 0 && st.swaps < st.preemptions)
          << st.swaps << " of " << st.preemptions << " preemptions swapped";
    for (std::size_t i = 0; i < reqs.size(); ++i)
      EXPECT_EQ(out[ids[i]], alone[i]) << "sequence " << i << ", " << mode;
  }
  // A swap space too small for one block is refused with the sizes.
  decoder_config no_room;
  no_room.swap = true;
  no_room.swap_bytes = 20479;
  auto too_small = batch_decoder::create(*e, no_room);
  ASSERT_FALSE(too_small);
  EXPECT_NE(describe(too_small.error()).find("20479 bytes hold no block of 20480 bytes"),
            std::string::npos)
      << describe(too_small.error());
  // A pool smaller than one context is refused with the sizes.
  decoder_config tiny;
  tiny.pool_blocks = 31;
  auto refused = batch_decoder::create(*e, tiny);
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("cannot hold one full context"), std::string::npos)
      << describe(refused.error());
}

// A waiting request of higher priority takes the blocks of running ones of lower priority:
// with the pool nearly full of low-priority sequences, an urgent one with a long prompt joins,
// some of them are preempted to make room, it runs first in the schedule, and every sequence
// still gives its own text.
TEST_F(llama_test, a_high_priority_request_preempts_low_priority_ones) {
  auto e = imported();
  ASSERT_TRUE(e);
  decoder_config cfg;
  cfg.pool_blocks = 32;
  auto decoder = batch_decoder::create(*e, cfg);
  ASSERT_TRUE(decoder);
  auto& d = **decoder;
  auto reqs = crowd(*tok_);
  reqs.resize(3);
  std::vector<uint64_t> low;
  for (auto& r : reqs)
    low.push_back(*d.admit(r));
  // Run until the three hold most of the pool (about 150 positions each is 30 blocks).
  std::map<uint64_t, std::vector<int32_t>> out;
  for (int step = 0; step < 140; ++step)
    ASSERT_TRUE(step_into(d, out));
  EXPECT_GE(d.stats().blocks_used, 27);
  sequence_request urgent = reqs[0];
  std::string story;
  for (int i = 0; i < 8; ++i)
    story += "Lily and Ben went to the park to play with a big red ball. ";
  urgent.prompt = tok_->encode(story);
  ASSERT_GE(urgent.prompt.size(), 150u);
  urgent.priority = 5;
  urgent.max_new = 100;
  const auto hi = *d.admit(urgent);
  std::optional<int> hi_done;
  for (int step = 0; step < 5000 && d.active() > 0; ++step) {
    std::vector<sequence_event> events;
    ASSERT_TRUE(step_into(d, out, &events));
    for (const auto& ev : events)
      if (ev.finished && ev.id == hi)
        hi_done = step;
    if (step == 4) { // its prompt went in over three steps of 64 positions
      auto seqs = d.sequences();
      ASSERT_FALSE(seqs.empty());
      EXPECT_EQ(seqs[0].id, hi); // first in schedule order
      EXPECT_EQ(seqs[0].state, "running");
      EXPECT_GT(d.stats().preempted, 0u) << "nobody made room for the urgent request";
    }
  }
  ASSERT_TRUE(hi_done);
  EXPECT_EQ(out[hi], greedy(*e, urgent.prompt, 100));
  for (std::size_t i = 0; i < low.size(); ++i) {
    auto alone =
        e->generate(reqs[i].prompt, reqs[i].max_new, reqs[i].sampling, reqs[i].seed, nullptr);
    ASSERT_TRUE(alone);
    EXPECT_EQ(out[low[i]], *alone) << "low-priority sequence " << i;
  }
}

// A sequence swapped out while its prompt was going in comes back still filling it ("waiting"),
// and runs once its prompt is in: a long low-priority prompt half in the cache when an urgent
// one takes every block; both give their texts alone.
TEST_F(llama_test, a_prompt_swapped_out_halfway_comes_back_filling) {
  auto e = imported();
  ASSERT_TRUE(e);
  decoder_config cfg;
  cfg.pool_blocks = 32;
  cfg.swap = true;
  auto decoder = batch_decoder::create(*e, cfg);
  ASSERT_TRUE(decoder);
  auto& d = **decoder;
  std::string story;
  for (int i = 0; i < 8; ++i)
    story += "Tom had a little dog named Max who liked to run in the big green park. ";
  sequence_request low;
  low.prompt = tok_->encode(story);
  ASSERT_GE(low.prompt.size(), 200u);
  low.max_new = 20;
  low.sampling.temperature = 0.0;
  const auto lo = *d.admit(low);
  ASSERT_TRUE(d.step()); // 64 of its prompt positions in
  sequence_request urgent;
  urgent.prompt = tok_->encode(story + story);
  urgent.prompt.resize(440); // with 60 new tokens, the whole context of 512: all 32 blocks
  urgent.max_new = 60;
  urgent.priority = 5;
  urgent.sampling.temperature = 0.0;
  const auto hi = *d.admit(urgent);
  std::vector<std::string> states; // the low sequence's, each time it changes
  std::map<uint64_t, std::vector<int32_t>> out;
  for (int step = 0; step < 2000 && d.active() > 0; ++step) {
    ASSERT_TRUE(step_into(d, out));
    for (const auto& q : d.sequences())
      if (q.id == lo && (states.empty() || states.back() != q.state))
        states.push_back(q.state);
  }
  // Waiting behind the urgent prompt's chunks, swapped out when it needs every block, back
  // filling when it is done, then decoding.
  EXPECT_EQ(states, (std::vector<std::string>{"waiting", "swapped", "waiting", "running"}));
  EXPECT_GT(d.stats().swaps, 0u);
  EXPECT_EQ(out[hi], greedy(*e, urgent.prompt, 60));
  EXPECT_EQ(out[lo], greedy(*e, low.prompt, 20));
}

// Among equal priorities a preempted sequence coming back does not take a running one's blocks:
// it fills what is free and waits. A (older) is kept below B until B holds nearly the whole
// pool and A's cache is gone; back at B's priority, A is first in schedule order, and the next
// step leaves B running (before, A preempted it at once). Both give their texts alone.
TEST_F(llama_test, a_sequence_coming_back_waits_for_blocks_rather_than_preempt_its_equals) {
  auto e = imported();
  ASSERT_TRUE(e);
  decoder_config cfg;
  cfg.pool_blocks = 32;
  auto decoder = batch_decoder::create(*e, cfg);
  ASSERT_TRUE(decoder);
  auto& d = **decoder;
  sequence_request older, newer;
  older.prompt = tok_->encode("Once upon a time");
  older.max_new = 400;
  newer.prompt = tok_->encode("The dog ran");
  newer.max_new = 490;
  for (auto* r : {&older, &newer})
    r->sampling.temperature = 0.0;
  const auto a = *d.admit(older), b = *d.admit(newer);
  ASSERT_TRUE(d.set_priority(a, -1));
  std::map<uint64_t, std::vector<int32_t>> out;
  auto info = [&](uint64_t id) {
    for (const auto& q : d.sequences())
      if (q.id == id)
        return q;
    return sequence_info{};
  };
  for (int i = 0; i < 2000 && info(b).blocks < 30; ++i)
    ASSERT_TRUE(step_into(d, out));
  ASSERT_GE(info(b).blocks, 30) << "the newer sequence never held nearly the whole pool";
  ASSERT_EQ(info(a).id, a) << "the older sequence finished before it was preempted";
  ASSERT_NE(info(a).state, "running");
  const auto preemptions = d.stats().preemptions;
  ASSERT_TRUE(d.set_priority(a, 0)); // first in schedule order again: older, equal priority
  ASSERT_TRUE(step_into(d, out));
  EXPECT_EQ(info(b).state, "running");
  EXPECT_EQ(d.stats().preemptions, preemptions) << "the sequence coming back preempted its equal";
  for (int i = 0; i < 4000 && d.active() > 0; ++i)
    ASSERT_TRUE(step_into(d, out));
  EXPECT_EQ(out[a], greedy(*e, older.prompt, 400));
  EXPECT_EQ(out[b], greedy(*e, newer.prompt, 490));
}

} // namespace
} // namespace llmos::model
