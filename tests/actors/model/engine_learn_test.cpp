// Every architecture learns on real data: loss falls and validation accuracy is well above
// chance (SpamAssassin: 2 classes, Fashion-MNIST: 10), and the GPT model's validation
// perplexity on fortunes beats a unigram model fitted to the same training tokens.
#include <cmath>
#include <map>

#include "engine_test_util.hpp"

namespace llmos::model::testing {
namespace {

double mean(const std::vector<double>& v, std::size_t from, std::size_t n) {
  double s = 0;
  for (std::size_t i = from; i < from + n; ++i)
    s += v[i];
  return s / static_cast<double>(n);
}

/// Trains `arch` with `hyper` on `set` for `steps` batches of `batch` rows: the loss falls and
/// validation accuracy reaches `min_accuracy`. The evaluation, for checks of the data set's own.
eval_report expect_learns(const small_set& set, const std::string& arch, const std::string& hyper,
                          int64_t steps, int64_t batch, double min_accuracy) {
  auto e = make_engine(spec_of("model: learner\narchitecture: " + arch + "\nhyper: " + hyper +
                               "\ntrain: {lr: 0.003, batch_size: " + std::to_string(batch) +
                               ", max_steps: " + std::to_string(steps) + ", warmup_steps: 10}\n"),
                       set);
  EXPECT_TRUE(e);
  if (!e)
    return {};
  auto losses = train(*e, set, steps, batch);
  EXPECT_GE(losses.size(), 20u);
  if (losses.size() >= 20) { // the first ten steps against the last ten
    EXPECT_LT(mean(losses, losses.size() - 10, 10), mean(losses, 0, 10)) << arch;
  }
  auto r = evaluate(*e, set);
  EXPECT_GE(r.metrics.accuracy, min_accuracy) << arch << " macro-F1 " << r.metrics.macro_f1;
  return r;
}

void expect_learns_spam(const std::string& arch, const std::string& hyper, int64_t steps,
                        double min_accuracy) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed (run tools/setup/setup.sh)";
  EXPECT_GT(expect_learns(*set, arch, hyper, steps, 32, min_accuracy).count, 100u);
}

TEST(engine_learn, bag_of_embeddings_classifies_spam) {
  expect_learns_spam("bag", "{embed_dim: 64, hidden_dim: 64, dropout: 0.1}", 120, 0.85);
}

TEST(engine_learn, bilstm_classifies_spam) {
  expect_learns_spam("bilstm", "{embed_dim: 32, hidden_dim: 32, layers: 1, dropout: 0.1}", 80, 0.8);
}

TEST(engine_learn, transformer_classifies_spam) {
  expect_learns_spam(
      "transformer",
      "{embed_dim: 32, heads: 4, layers: 1, ff_dim: 64, max_length: 64, dropout: 0.1}", 80, 0.8);
}

TEST(engine_learn, cnn_classifies_fashion) {
  auto set = fashion_set();
  if (!set)
    GTEST_SKIP() << "Fashion-MNIST not installed (run tools/setup/setup.sh)";
  // Chance is 0.1.
  auto r = expect_learns(*set, "cnn", "{conv_channels: [8, 16], hidden_dim: 64, dropout: 0.1}", 150,
                         64, 0.7);
  EXPECT_EQ(r.count, set->view.split("validation").size());
  EXPECT_EQ(r.metrics.confusion.size(), 10u);
}

/// Validation perplexity of add-one unigram frequencies of the training targets.
double unigram_perplexity(const small_set& set) {
  std::map<int32_t, double> counts;
  double total = 0;
  auto targets = [&](const data_batch& b, auto&& fn) {
    const auto* ids = reinterpret_cast<const int32_t*>(b.inputs.data.data());
    const auto rows = b.inputs.shape[0], cols = b.inputs.shape[1];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 1; c < cols; ++c)
        if (ids[r * cols + c] != set.shape.pad_id)
          fn(ids[r * cols + c]);
  };
  for (auto& b : set.batches("train", 64))
    targets(b, [&](int32_t t) {
      counts[t] += 1;
      total += 1;
    });
  const double vocab = static_cast<double>(set.shape.vocab_size);
  double nll = 0;
  uint64_t n = 0;
  for (auto& b : set.batches("validation", 64))
    targets(b, [&](int32_t t) {
      nll -= std::log((counts[t] + 1) / (total + vocab));
      ++n;
    });
  return std::exp(nll / static_cast<double>(n));
}

TEST(engine_learn, gpt_beats_unigram_perplexity_on_fortunes) {
  auto set = fortunes_set();
  if (!set)
    GTEST_SKIP() << "fortunes not installed (run tools/setup/setup.sh)";
  auto e = make_engine(spec_of("model: fortunes-gpt\narchitecture: gpt\n"
                               "hyper: {embed_dim: 64, heads: 4, layers: 2, ff_dim: 128, "
                               "max_length: 64, dropout: 0.0}\n"
                               "train: {lr: 0.003, batch_size: 32, max_steps: 150, "
                               "warmup_steps: 10}\n"),
                       *set);
  ASSERT_TRUE(e);
  const auto before = evaluate(*e, *set).perplexity;
  train(*e, *set, 150, 32);
  const auto after = evaluate(*e, *set).perplexity;
  const auto unigram = unigram_perplexity(*set);
  EXPECT_LT(after, before);
  EXPECT_LT(after, unigram) << "GPT " << after << " vs unigram " << unigram;

  // Generation: greedy is deterministic, sampling follows its seed, tokens stream one by one.
  std::vector<int32_t> streamed;
  auto prompt = std::vector<int32_t>{'T', 'h', 'e', ' '};
  auto greedy =
      e->generate(prompt, 20, sampling_params{0.0, 0, 1.0, 0.0, 0.0, {}}, 1, [&](int32_t t) {
        streamed.push_back(t);
        return true;
      });
  ASSERT_TRUE(greedy) << describe(greedy.error());
  EXPECT_EQ(*greedy, streamed);
  auto again = e->generate(prompt, 20, sampling_params{0.0, 0, 1.0, 0.0, 0.0, {}}, 99, {});
  EXPECT_EQ(*greedy, *again);
  auto s1 = e->generate(prompt, 20, sampling_params{1.0, 20, 0.9, 0.0, 0.0, {}}, 5, {});
  auto s2 = e->generate(prompt, 20, sampling_params{1.0, 20, 0.9, 0.0, 0.0, {}}, 5, {});
  ASSERT_TRUE(s1 && s2);
  EXPECT_EQ(*s1, *s2);
  auto stopped = e->generate(prompt, 20, sampling_params{1.0, 0, 1.0, 0.0, 0.0, {}}, 5,
                             [](int32_t) { return false; });
  EXPECT_EQ(stopped->size(), 1u);
}

} // namespace
} // namespace llmos::model::testing
