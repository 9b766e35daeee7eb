// The fixture of the tests on the shared pretrained model (stories260K): its weights imported,
// its tokenizer, greedy generation, LM batches of text, short fine-tunes and stepping a decoder.
#pragma once

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "dataset/tokenize/llama_tokenizer.hpp"
#include "formats_test_util.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/llama2c_file.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"

namespace llmos::model {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class llama_test : public ::testing::Test {
protected:
  void SetUp() override {
    std::string why;
    auto w = test::stories260k(&why);
    ASSERT_TRUE(w) << why;
    weights_ = std::move(*w);
    dir_ = test::stories260k_dir(nullptr);
    auto tok = dataset::llama_tokenizer::create(weights_.vocab);
    ASSERT_TRUE(tok) << describe(tok.error());
    tok_ = std::make_unique<dataset::llama_tokenizer>(std::move(*tok));
  }

  std::unique_ptr<engine> imported() {
    auto e = engine::from_llama(weights_, "stories");
    EXPECT_TRUE(e) << describe(e.error());
    return e ? std::move(*e) : nullptr;
  }

  std::vector<int32_t> greedy(engine& e, const std::vector<int32_t>& prompt, int64_t n) {
    sampling_params greedy_params;
    greedy_params.temperature = 0.0;
    auto out = e.generate(prompt, n, greedy_params, 1, nullptr);
    EXPECT_TRUE(out) << describe(out.error());
    return out ? *out : std::vector<int32_t>{};
  }

  /// Greedy 200 tokens from BOS on `e` are run.c's reference output byte for byte.
  void expect_reference_text(engine& e) {
    auto out = greedy(e, {}, 200);
    ASSERT_EQ(out.size(), 200u);
    auto text = tok_->decode(out);
    ASSERT_TRUE(text) << describe(text.error());
    // run.c prints a newline after the generation; the fixture holds what it printed.
    EXPECT_EQ(*text + "\n", read_text(dir_ + "/expected-greedy-200.txt"));
  }

  /// Rows of `text`'s tokens after BOS, cut into sequences of `length` (an LM batch).
  data_batch batch_of(const std::string& text, int64_t length) {
    auto ids = tok_->encode(text);
    ids.insert(ids.begin(), weights_.vocab.bos);
    return test::lm_batch(ids, length);
  }

  /// The imported model fine-tuned (LoRA of rank 4, or "full") on `text` for a few steps.
  std::unique_ptr<engine> fine_tuned(const std::string& text, const std::string& mode = "lora") {
    auto e = imported();
    if (!e)
      return nullptr;
    auto batch = batch_of(text + " " + text + " " + text, 16);
    auto training = e->spec();
    training.lora_rank = mode == "lora" ? 4 : 0;
    training.lr = 1e-2;
    training.max_steps = 30;
    training.warmup_steps = 0;
    EXPECT_FALSE(e->fine_tune(mode, training, label_vocab{}));
    for (int i = 0; i < 30; ++i)
      EXPECT_TRUE(e->train_step(batch));
    return e;
  }

  /// One step of `d`: each token it made appended to its sequence's list in `out`, its events in
  /// `events` when given. False (and a test failure) when the step failed.
  static bool step_into(batch_decoder& d, std::map<uint64_t, std::vector<int32_t>>& out,
                        std::vector<sequence_event>* events = nullptr) {
    auto made = d.step();
    EXPECT_TRUE(made) << describe(made.error());
    if (!made)
      return false;
    for (const auto& ev : *made)
      if (ev.token >= 0)
        out[ev.id].push_back(ev.token);
    if (events)
      *events = std::move(*made);
    return true;
  }

  /// Steps `d` until nothing is active; each sequence's tokens by id, and the largest number of
  /// sequences preempted at once.
  static std::map<uint64_t, std::vector<int32_t>> run_all(batch_decoder& d,
                                                          std::size_t* most_preempted) {
    std::map<uint64_t, std::vector<int32_t>> out;
    for (int step = 0; step < 5000 && d.active() > 0; ++step) {
      if (!step_into(d, out))
        break;
      if (most_preempted)
        *most_preempted = std::max(*most_preempted, d.stats().preempted);
    }
    EXPECT_EQ(d.active(), 0u);
    return out;
  }

  std::string dir_;
  llama_weights weights_;
  std::unique_ptr<dataset::llama_tokenizer> tok_;
};

} // namespace llmos::model
