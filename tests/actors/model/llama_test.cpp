// The llama architecture on a real pretrained model (stories260K, llama2.c's published fixture):
// imported weights reproduce the reference's greedy output byte for byte, the fused decode
// kernel and the LibTorch path agree, the model is far better than a unigram model on held-out
// text, weights survive import -> export, and it fine-tunes (LoRA and full) and checkpoints.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "dataset/tokenize/llama_tokenizer.hpp"
#include "formats_test_util.hpp"
#include "llama_fixture.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/llama2c_file.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"

namespace llmos::model {
namespace {

// Hand-written, TinyStories-like text the model never saw.
const char* const held_out =
    "Once upon a time, there was a little dog named Max. Max liked to run in the big green park "
    "with his friend Tom. One day, Tom found a red ball under a tree. He said, \"Max, look what I "
    "found!\" Max was very happy. They played with the ball all day. When the sun went down, they "
    "went home and had a big dinner. Max was tired, so he went to sleep in his warm bed. The "
    "next morning, Tom and Max went to the park again. They saw a small bird in the tree. The "
    "bird was sad because it could not fly. Tom helped the bird and it flew away. Max and Tom "
    "were happy and they played with the ball again.";

TEST_F(llama_test, greedy_from_bos_reproduces_the_reference_byte_for_byte) {
  auto e = imported();
  ASSERT_TRUE(e);
  expect_reference_text(*e);
}

TEST_F(llama_test, fused_decode_and_libtorch_path_generate_the_same_tokens) {
  auto fused = imported();
  auto plain = imported();
  ASSERT_TRUE(fused && plain);
  // Adapters with B = 0 leave the function unchanged but take the network off the fused path.
  auto training = plain->spec();
  training.lora_rank = 4;
  ASSERT_FALSE(plain->fine_tune("lora", training, label_vocab{}));
  const auto prompt = tok_->encode("The cat sat on the mat and");
  auto a = greedy(*fused, prompt, 120);
  auto b = greedy(*plain, prompt, 120);
  EXPECT_EQ(a, b);
  EXPECT_GE(a.size(), 100u);
}

TEST_F(llama_test, perplexity_on_held_out_text_is_far_below_a_unigram_model) {
  auto e = imported();
  ASSERT_TRUE(e);
  auto batch = batch_of(held_out, 32);
  auto r = e->evaluate({batch});
  ASSERT_TRUE(r) << describe(r.error());
  // A unigram model fit on the very tokens it is scored on (an optimistic baseline).
  auto ids = tok_->encode(held_out);
  std::map<int32_t, double> counts;
  for (auto id : ids)
    counts[id] += 1.0;
  double nll = 0.0;
  for (auto id : ids)
    nll -= std::log(counts[id] / static_cast<double>(ids.size()));
  const double unigram = std::exp(nll / static_cast<double>(ids.size()));
  EXPECT_LT(r->perplexity, unigram / 4.0) << "model " << r->perplexity << " unigram " << unigram;
  EXPECT_GT(r->perplexity, 1.0);
}

TEST_F(llama_test, trailing_padding_changes_neither_loss_nor_update) {
  // Records of 20, 9 and 14 tokens padded to a context of 64 (as a data set pads them) and to
  // their longest: the engine cuts the padding both share, and everything counted is the same.
  const int32_t pad = weights_.vocab.pad >= 0 ? weights_.vocab.pad : weights_.vocab.unk;
  auto ids = tok_->encode(held_out);
  ids.insert(ids.begin(), weights_.vocab.bos);
  ASSERT_GE(ids.size(), 43u);
  auto padded = [&](int64_t width) {
    std::vector<int32_t> rows;
    std::size_t at = 0;
    for (std::size_t length : {20u, 9u, 14u}) {
      for (int64_t k = 0; k < width; ++k)
        rows.push_back(static_cast<std::size_t>(k) < length ? ids[at + k] : pad);
      at += length;
    }
    return test::lm_batch(rows, width);
  };
  auto wide = imported(), narrow = imported();
  ASSERT_TRUE(wide && narrow);
  auto a = wide->evaluate({padded(64)});
  auto b = narrow->evaluate({padded(20)});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->count, 19u + 8u + 13u) << "every real next token, no padded one";
  EXPECT_EQ(a->count, b->count);
  EXPECT_NEAR(a->loss, b->loss, 1e-5);
  auto training = wide->spec();
  training.lr = 1e-2;
  training.warmup_steps = 0;
  ASSERT_FALSE(wide->fine_tune("full", training, label_vocab{}));
  ASSERT_FALSE(narrow->fine_tune("full", training, label_vocab{}));
  for (int i = 0; i < 3; ++i) {
    auto x = wide->train_step(padded(64));
    auto y = narrow->train_step(padded(20));
    ASSERT_TRUE(x && y);
    EXPECT_NEAR(x->loss, y->loss, 1e-5) << "step " << i;
  }
}

TEST_F(llama_test, weights_survive_import_and_export_exactly) {
  auto e = imported();
  ASSERT_TRUE(e);
  auto back = e->to_llama();
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->config, weights_.config);
  ASSERT_EQ(back->tensors.size(), weights_.tensors.size());
  for (auto& [name, t] : weights_.tensors) {
    ASSERT_TRUE(back->tensors.count(name)) << name;
    EXPECT_EQ(back->tensors.at(name).shape, t.shape) << name;
    EXPECT_EQ(back->tensors.at(name).data, t.data) << name;
  }
}

// What llmos exports, llmos (and llama.cpp) reads back: the same loss to 1e-5 for F32 files, and
// close for the compressed ones.
TEST_F(llama_test, exports_reimport_with_the_same_loss) {
  auto e = imported();
  ASSERT_TRUE(e);
  auto batch = batch_of(held_out, 32);
  auto base = e->evaluate({batch});
  ASSERT_TRUE(base);
  auto w = e->to_llama();
  ASSERT_TRUE(w);
  w->vocab = weights_.vocab;
  const auto dir =
      std::filesystem::temp_directory_path() / ("llama_export_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct file_case {
    std::string name;
    double tolerance;
  };
  for (const auto& c : {file_case{"f32", 1e-5}, file_case{"f16", 2e-3}, file_case{"q8_0", 2e-2},
                        file_case{"llama2c", 1e-5}}) {
    caf::expected<llama_weights> back{caf::error{}};
    if (c.name == "llama2c") {
      ASSERT_FALSE(write_llama2c(*w, (dir / "m.bin").string(), (dir / "tok.bin").string()));
      back = read_llama2c((dir / "m.bin").string(), (dir / "tok.bin").string());
    } else {
      auto type = parse_gguf_tensor_type(c.name);
      ASSERT_TRUE(type);
      const auto path = (dir / ("m." + c.name + ".gguf")).string();
      ASSERT_FALSE(write_gguf(*w, path, *type));
      back = read_gguf(path);
    }
    ASSERT_TRUE(back) << c.name << ": " << describe(back.error());
    EXPECT_EQ(back->vocab.pieces, weights_.vocab.pieces) << c.name;
    auto again = engine::from_llama(*back, "again");
    ASSERT_TRUE(again) << describe(again.error());
    auto r = (*again)->evaluate({batch});
    ASSERT_TRUE(r);
    EXPECT_NEAR(r->loss, base->loss, c.tolerance) << c.name;
    if (c.tolerance <= 1e-5) {
      EXPECT_EQ(greedy(**again, {}, 200), greedy(*e, {}, 200)) << c.name;
    }
  }
  std::filesystem::remove_all(dir);
}

// Continuous batching: sequences joining at different steps, with prompts longer than a prefill
// chunk, greedy and sampled, give exactly what each gives alone; a cancelled one leaves at once.
TEST_F(llama_test, continuous_batching_gives_each_sequence_its_own_output) {
  auto e = imported();
  ASSERT_TRUE(e);
  auto decoder = batch_decoder::create(*e, {16});
  ASSERT_TRUE(decoder) << describe(decoder.error());
  std::vector<sequence_request> reqs;
  const char* prompts[] = {"", "Once upon a time", "The dog",
                           "Lily and Ben went to the park to play with a big red ball and a kite",
                           "Tom"};
  for (int i = 0; i < 5; ++i) {
    sequence_request r;
    r.prompt = tok_->encode(prompts[i]);
    r.max_new = 30 + 7 * i;
    r.sampling.temperature = i % 2 == 0 ? 0.0 : 0.8;
    r.sampling.top_k = i == 3 ? 20 : 0;
    // Penalties and a bias count the sequence's own tokens in both paths.
    if (i == 2) {
      r.sampling.frequency_penalty = 1.5;
      r.sampling.presence_penalty = 0.5;
    }
    if (i == 4)
      r.sampling.logit_bias = {{tok_->encode(" dog").front(), 4.0}};
    r.seed = 100 + static_cast<uint64_t>(i);
    reqs.push_back(r);
  }
  // Alone, one at a time.
  std::vector<std::vector<int32_t>> alone;
  for (auto& r : reqs) {
    auto out = e->generate(r.prompt, r.max_new, r.sampling, r.seed, nullptr);
    ASSERT_TRUE(out);
    alone.push_back(*out);
  }
  // Together: two at first, the others join after 3 and 6 steps; one more is cancelled.
  std::map<uint64_t, std::size_t> which;
  std::vector<std::vector<int32_t>> together(reqs.size());
  std::vector<std::string> reasons(reqs.size());
  auto admit = [&](std::size_t i) {
    auto id = (*decoder)->admit(reqs[i]);
    ASSERT_TRUE(id) << describe(id.error());
    which[*id] = i;
  };
  admit(0);
  admit(1);
  sequence_request doomed;
  doomed.prompt = tok_->encode("A cat");
  doomed.max_new = 100;
  auto doomed_id = (*decoder)->admit(doomed);
  ASSERT_TRUE(doomed_id);
  std::size_t widest = 0;
  for (int step = 0; step < 200 && (*decoder)->active() > 0; ++step) {
    if (step == 3) {
      admit(2);
      admit(3);
    }
    if (step == 6)
      admit(4);
    if (step == 4) {
      EXPECT_TRUE((*decoder)->cancel(*doomed_id));
      EXPECT_FALSE((*decoder)->cancel(*doomed_id));
    }
    auto events = (*decoder)->step();
    ASSERT_TRUE(events) << describe(events.error());
    widest = std::max(widest, (*decoder)->last_batch());
    for (auto& ev : *events) {
      if (ev.id == *doomed_id) {
        EXPECT_LT(step, 4) << "a cancelled sequence made a token";
        continue;
      }
      auto i = which.at(ev.id);
      if (ev.token >= 0)
        together[i].push_back(ev.token);
      if (ev.finished)
        reasons[i] = ev.reason;
    }
  }
  EXPECT_EQ((*decoder)->active(), 0u);
  EXPECT_GE(widest, 4u) << "the sequences never decoded together";
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i], alone[i]) << "sequence " << i;
    const bool full = static_cast<int64_t>(alone[i].size()) == reqs[i].max_new;
    EXPECT_EQ(reasons[i], full ? "length" : "stop") << "sequence " << i;
  }
}

TEST_F(llama_test, lora_fine_tune_lowers_the_loss_and_export_merges_the_adapters) {
  auto e = imported();
  ASSERT_TRUE(e);
  const std::string text =
      "Zorp the robot likes purple cheese. Zorp the robot likes purple cheese. "
      "Zorp the robot likes purple cheese. Zorp the robot likes purple cheese.";
  auto batch = batch_of(text, 16);
  auto before = e->evaluate({batch});
  ASSERT_TRUE(before);
  auto training = e->spec();
  training.lora_rank = 8;
  training.lr = 1e-2;
  training.max_steps = 40;
  training.warmup_steps = 0;
  ASSERT_FALSE(e->fine_tune("lora", training, label_vocab{}));
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(e->train_step(batch));
  auto after = e->evaluate({batch});
  ASSERT_TRUE(after);
  EXPECT_LT(after->loss, before->loss * 0.7);
  // The export folds the adapters in: a fresh import of it scores what the fine-tune scored.
  auto exported = e->to_llama();
  ASSERT_TRUE(exported);
  exported->vocab = weights_.vocab;
  auto again = engine::from_llama(*exported, "again");
  ASSERT_TRUE(again);
  auto check = (*again)->evaluate({batch});
  ASSERT_TRUE(check);
  EXPECT_NEAR(check->loss, after->loss, 1e-4);
}

TEST_F(llama_test, full_fine_tune_checkpoints_and_resumes_with_the_same_outputs) {
  auto e = imported();
  ASSERT_TRUE(e);
  auto batch = batch_of(held_out, 32);
  auto training = e->spec();
  training.max_steps = 4;
  training.warmup_steps = 0;
  ASSERT_FALSE(e->fine_tune("full", training, label_vocab{}));
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(e->train_step(batch));
  const auto path = (std::filesystem::temp_directory_path() /
                     ("llama_ckpt_" + std::to_string(::getpid()) + ".pt"))
                        .string();
  ASSERT_FALSE(e->save(path));
  auto loaded = engine::load(path);
  ASSERT_TRUE(loaded) << describe(loaded.error());
  EXPECT_EQ((*loaded)->spec().architecture, "llama");
  EXPECT_EQ((*loaded)->flat_parameters(), e->flat_parameters());
  const auto prompt = tok_->encode("Lily went to");
  EXPECT_EQ(greedy(**loaded, prompt, 40), greedy(*e, prompt, 40));
  // Both continue training identically (optimizer state and step restored).
  auto a = e->train_step(batch);
  auto b = (*loaded)->train_step(batch);
  ASSERT_TRUE(a && b);
  EXPECT_DOUBLE_EQ(a->loss, b->loss);
  std::filesystem::remove(path);
}

// Prefix caching: a second sequence with the same 70-odd-token prompt takes the first one's full
// blocks (four of 16 positions) instead of computing them, and both give their text alone;
// when both are done every block is free again.
TEST_F(llama_test, sequences_with_a_common_prompt_share_its_blocks) {
  auto e = imported();
  ASSERT_TRUE(e);
  auto decoder = batch_decoder::create(*e, {});
  ASSERT_TRUE(decoder) << describe(decoder.error());
  auto& d = **decoder;
  sequence_request r;
  r.prompt = tok_->encode("Once upon a time, there was a little girl named Lily. She loved to play "
                          "outside in the sunshine with her friends. One day, she saw a big tree "
                          "in the park and wanted to climb it. She asked her mom to help her.");
  ASSERT_GE(r.prompt.size(), 65u);
  r.max_new = 40;
  r.sampling.temperature = 0.0;
  const auto alone = greedy(*e, r.prompt, 40);
  std::map<uint64_t, std::vector<int32_t>> out;
  auto step = [&] {
    auto events = d.step();
    ASSERT_TRUE(events) << describe(events.error());
    for (auto& ev : *events)
      if (ev.token >= 0)
        out[ev.id].push_back(ev.token);
  };
  const auto first = d.admit(r);
  ASSERT_TRUE(first);
  step(); // the first chunk (64 positions) of the prompt
  step(); // the rest: its full blocks are published
  const auto before = d.stats();
  const auto second = d.admit(r);
  ASSERT_TRUE(second);
  step();
  const auto shared = d.stats();
  // The context is BOS and the prompt; its last position is always computed (its logits).
  const auto context = static_cast<int64_t>(r.prompt.size()) + 1;
  const int64_t prompt_blocks = (context - 1) / 16;
  EXPECT_EQ(shared.prefix_blocks, static_cast<uint64_t>(prompt_blocks));
  // The second sequence needed only the block of its last prompt positions.
  EXPECT_EQ(shared.blocks_used, before.blocks_used + (context + 15) / 16 - prompt_blocks);
  auto seqs = d.sequences();
  ASSERT_EQ(seqs.size(), 2u);
  EXPECT_EQ(seqs[1].state, "running");
  for (auto& [id, tokens] : run_all(d, nullptr))
    out[id].insert(out[id].end(), tokens.begin(), tokens.end());
  EXPECT_EQ(out[*first], alone);
  EXPECT_EQ(out[*second], alone);
  EXPECT_EQ(d.stats().blocks_used, 0);
  // A third one after both left still finds the prefix (freed blocks stay matchable).
  const auto third = d.admit(r);
  ASSERT_TRUE(third);
  out = run_all(d, nullptr);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[*third], alone);
  EXPECT_EQ(d.stats().prefix_blocks, static_cast<uint64_t>(2 * prompt_blocks));
}

} // namespace
} // namespace llmos::model
