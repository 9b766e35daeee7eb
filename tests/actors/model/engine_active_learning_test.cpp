// Active learning on real data (SpamAssassin mails): with the same number of people's labels,
// asking for the mails the model is least sure of (what a data set's review queue serves:
// least confident first) trains a better classifier than asking for random ones. Five seeds,
// each: 16 labelled mails, then 32 more labels chosen either way, a fresh model trained on each
// result, validation accuracy compared on the mean. The model's picks come in rounds of 8 with
// a retrained model between them, as a review queue is used: asked all at once from the model
// trained on the first 16, they lost to random ones (mean 0.814 vs 0.831 over seeds 1-3: a
// model that weak is sure of the wrong things); in rounds they win (0.877 vs 0.848, 4 of 5).
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>

#include "engine_test_util.hpp"

namespace llmos::model::testing {
namespace {

constexpr std::size_t seed_labels = 16;
constexpr std::size_t asked = 32;
constexpr std::size_t round = 8; ///< labels asked per review round

/// One batch of the given single-row batches.
data_batch batch_of(const std::vector<data_batch>& rows, const std::vector<std::size_t>& pick) {
  data_batch out = rows[pick.front()];
  out.ids.clear();
  out.labels.clear();
  out.inputs.data.clear();
  for (auto i : pick) {
    out.ids.push_back(rows[i].ids[0]);
    out.labels.push_back(rows[i].labels[0]);
    out.inputs.data += rows[i].inputs.data;
  }
  out.inputs.shape[0] = static_cast<int64_t>(pick.size());
  return out;
}

/// A fresh bag model trained on `pick` (60 steps of 16, reshuffled every pass).
std::unique_ptr<engine> trained_on(const small_set& set, const std::vector<data_batch>& rows,
                                   std::vector<std::size_t> pick, uint64_t seed) {
  auto e = make_engine(spec_of("model: al\narchitecture: bag\n"
                               "hyper: {embed_dim: 32, hidden_dim: 32, dropout: 0.1}\n"
                               "train: {lr: 0.01, batch_size: 16, max_steps: 60, warmup_steps: 5, "
                               "seed: " +
                               std::to_string(seed) + "}\n"),
                       set);
  if (!e)
    return nullptr;
  std::mt19937_64 rng{seed};
  while (e->step() < 60) {
    std::shuffle(pick.begin(), pick.end(), rng);
    for (std::size_t at = 0; at < pick.size() && e->step() < 60; at += 16) {
      std::vector<std::size_t> part(
          pick.begin() + static_cast<std::ptrdiff_t>(at),
          pick.begin() + static_cast<std::ptrdiff_t>(std::min(pick.size(), at + 16)));
      auto r = e->train_step(batch_of(rows, part));
      EXPECT_TRUE(r) << describe(r.error());
      if (!r)
        return nullptr;
    }
  }
  return e;
}

/// The `n` pool rows the model is least sure of (ties: pool order).
std::vector<std::size_t> least_confident(engine& e, const std::vector<data_batch>& rows,
                                         const std::vector<std::size_t>& pool, std::size_t n) {
  std::vector<std::pair<double, std::size_t>> scored;
  for (std::size_t at = 0; at < pool.size(); at += 64) {
    std::vector<std::size_t> part(pool.begin() + static_cast<std::ptrdiff_t>(at),
                                  pool.begin() +
                                      static_cast<std::ptrdiff_t>(std::min(pool.size(), at + 64)));
    auto p = e.infer(batch_of(rows, part).inputs);
    EXPECT_TRUE(p) << describe(p.error());
    if (!p)
      return {};
    for (std::size_t k = 0; k < part.size(); ++k)
      scored.emplace_back((*p)[k].confidence, part[k]);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < n && k < scored.size(); ++k)
    out.push_back(scored[k].second);
  return out;
}

TEST(engine_active_learning, least_confident_labels_beat_random_ones_on_spam) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed (run tools/setup/setup.sh)";
  std::vector<data_batch> rows;
  for (const auto& b : set->batches("train", 64))
    for (std::size_t i = 0; i < b.ids.size(); ++i)
      rows.push_back(slice(b, i, 1));
  ASSERT_GT(rows.size(), seed_labels + 4 * asked);
  double active = 0;
  double random = 0;
  const std::vector<uint64_t> seeds{1, 2, 3, 4, 5};
  for (auto seed : seeds) {
    std::vector<std::size_t> order(rows.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng{seed};
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<std::size_t> labelled(order.begin(),
                                      order.begin() + static_cast<std::ptrdiff_t>(seed_labels));
    std::vector<std::size_t> pool(order.begin() + static_cast<std::ptrdiff_t>(seed_labels),
                                  order.end());
    // In rounds, as a review queue is used: label the least sure few, retrain, ask again.
    auto by_model = labelled;
    auto left = pool;
    while (by_model.size() < seed_labels + asked) {
      auto current = trained_on(*set, rows, by_model, seed);
      ASSERT_TRUE(current);
      for (auto i : least_confident(*current, rows, left, round)) {
        by_model.push_back(i);
        left.erase(std::find(left.begin(), left.end(), i));
      }
    }
    auto by_chance = labelled;
    by_chance.insert(by_chance.end(), pool.begin(),
                     pool.begin() + static_cast<std::ptrdiff_t>(asked));
    ASSERT_EQ(by_model.size(), by_chance.size());
    auto a = trained_on(*set, rows, by_model, seed);
    auto r = trained_on(*set, rows, by_chance, seed);
    ASSERT_TRUE(a && r);
    const double acc_a = evaluate(*a, *set).metrics.accuracy;
    const double acc_r = evaluate(*r, *set).metrics.accuracy;
    std::printf("seed %llu: %zu labels, least confident %.3f, random %.3f\n",
                static_cast<unsigned long long>(seed), by_model.size(), acc_a, acc_r);
    active += acc_a / static_cast<double>(seeds.size());
    random += acc_r / static_cast<double>(seeds.size());
  }
  std::printf("mean validation accuracy: least confident %.3f, random %.3f\n", active, random);
  EXPECT_GT(active, random);
}

} // namespace
} // namespace llmos::model::testing
