// What happens to a trained model: checkpoints resume the same loss curve, LoRA fine-tuning
// beats training from scratch on a small subset and merges into plain weights, int8
// quantisation agrees with float, and bad input (corrupt or foreign checkpoints, shapes,
// NaN loss) is refused with the model and the cause while the engine stays usable.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../../temp_folder.hpp"
#include "engine_test_util.hpp"

namespace llmos::model::testing {

data_batch slice(const data_batch& b, std::size_t from, std::size_t n) {
  data_batch out = b;
  out.ids.assign(b.ids.begin() + static_cast<long>(from),
                 b.ids.begin() + static_cast<long>(from + n));
  out.labels.assign(b.labels.begin() + static_cast<long>(from),
                    b.labels.begin() + static_cast<long>(from + n));
  std::size_t row = b.inputs.data.size() / static_cast<std::size_t>(b.inputs.shape[0]);
  out.inputs.shape[0] = static_cast<int64_t>(n);
  out.inputs.data = b.inputs.data.substr(from * row, n * row);
  return out;
}

namespace {

namespace fs = std::filesystem;

const char* bag_spec = "model: spam-bag\narchitecture: bag\n"
                       "hyper: {embed_dim: 32, hidden_dim: 32, dropout: 0.2}\n"
                       "train: {lr: 0.003, batch_size: 16, max_steps: 40, warmup_steps: 5}\n";

TEST(engine_state, resumed_checkpoint_continues_the_same_loss_curve) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed";
  test::temp_folder dir;
  const auto ckpt = dir / "a.ckpt";
  auto batches = set->batches("train", 16);
  ASSERT_GE(batches.size(), 20u);
  auto a = make_engine(spec_of(bag_spec), *set);
  for (std::size_t i = 0; i < 10; ++i)
    ASSERT_TRUE(a->train_step(batches[i]));
  ASSERT_FALSE(a->save(ckpt, {{"batch", 10}}));
  std::vector<double> uninterrupted;
  for (std::size_t i = 10; i < 20; ++i)
    uninterrupted.push_back(a->train_step(batches[i])->loss);

  auto b = engine::load(ckpt);
  ASSERT_TRUE(b) << describe(b.error());
  EXPECT_EQ((*b)->step(), 10);
  EXPECT_EQ((*b)->cursor().value("batch", 0), 10);
  for (std::size_t i = 10; i < 20; ++i)
    EXPECT_DOUBLE_EQ((*b)->train_step(batches[i])->loss, uninterrupted[i - 10]) << "batch " << i;
  EXPECT_EQ((*b)->flat_parameters(), a->flat_parameters());
  EXPECT_FALSE(fs::exists(ckpt + ".tmp"));
}

TEST(engine_state, corrupt_foreign_and_missing_checkpoints_are_refused) {
  test::temp_folder dir;
  auto missing = engine::load(dir / "none.ckpt");
  ASSERT_FALSE(missing);
  EXPECT_NE(describe(missing.error()).find("none.ckpt': no such file"), std::string::npos);
  const auto garbage = dir / "garbage.ckpt";
  std::ofstream(garbage) << "this is not a checkpoint";
  auto corrupt = engine::load(garbage);
  ASSERT_FALSE(corrupt);
  EXPECT_NE(describe(corrupt.error()).find("garbage.ckpt': corrupt"), std::string::npos)
      << describe(corrupt.error());
  // A real PyTorch file from another program: a zip archive, but not ours.
  const auto foreign = dir / "foreign.pt";
  const auto cmd = "/usr/bin/python3 -c 'import torch; torch.save({\"w\": torch.ones(3)}, \"" +
                   foreign + "\")' 2>/dev/null";
  if (std::system(cmd.c_str()) == 0) {
    auto other = engine::load(foreign);
    ASSERT_FALSE(other);
    EXPECT_NE(describe(other.error()).find("foreign.pt'"), std::string::npos);
  }
}

TEST(engine_state, bad_inputs_name_the_model_and_leave_it_working) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed";
  auto e = make_engine(spec_of(bag_spec), *set);
  auto batch = set->batches("train", 8).front();

  auto wrong_dtype = batch;
  wrong_dtype.inputs.dtype = "u8";
  auto r = e->train_step(wrong_dtype);
  ASSERT_FALSE(r);
  EXPECT_NE(describe(r.error()).find("model 'spam-bag': expects i32 token ids"), std::string::npos);

  auto out_of_vocab = batch;
  reinterpret_cast<int32_t*>(out_of_vocab.inputs.data.data())[0] = 1 << 30;
  r = e->train_step(out_of_vocab);
  ASSERT_FALSE(r);
  EXPECT_NE(describe(r.error()).find("outside the vocabulary"), std::string::npos);

  auto short_bytes = batch;
  short_bytes.inputs.data.resize(3);
  EXPECT_FALSE(e->train_step(short_bytes));

  auto unknown_label = batch;
  unknown_label.labels[0] = "eggs";
  r = e->train_step(unknown_label);
  ASSERT_FALSE(r);
  EXPECT_NE(describe(r.error()).find("unknown label 'eggs'"), std::string::npos);

  EXPECT_TRUE(e->train_step(batch)) << "the engine still trains";

  // An absurd learning rate drives the loss to inf/NaN: refused, update dropped, engine alive.
  // (Spec files refuse lr > 10; the engine takes what it is given, as a tuner might.)
  auto wild_spec = spec_of("model: wild\narchitecture: bag\nhyper: {dropout: 0.0}\n"
                           "train: {optimizer: sgd, warmup_steps: 0, clip_norm: 0}\n");
  wild_spec.lr = 1e30;
  auto wild = make_engine(wild_spec, *set);
  ASSERT_TRUE(wild);
  bool refused = false;
  for (int i = 0; i < 5 && !refused; ++i) {
    auto w = wild->train_step(batch);
    if (!w) {
      refused = true;
      EXPECT_NE(describe(w.error()).find("model 'wild': loss is"), std::string::npos)
          << describe(w.error());
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(wild->evaluate({batch})) << "evaluation still answers";

  EXPECT_FALSE(engine::create(spec_of("model: g\narchitecture: gpt\n"), set->shape, set->labels)
                   ->get()
                   ->infer(batch.inputs));
}

TEST(engine_state, lora_fine_tune_beats_scratch_on_a_small_subset_and_merges) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed";
  const std::string arch = "model: spam-tf\narchitecture: transformer\n"
                           "hyper: {embed_dim: 32, heads: 4, layers: 1, ff_dim: 64, "
                           "max_length: 64, dropout: 0.0}\n";
  auto train_batches = set->batches("train", 16);
  ASSERT_GE(train_batches.size(), 20u);
  const std::size_t half = train_batches.size() / 2;
  // Base model: trained on the first half of the training split.
  auto base =
      make_engine(spec_of(arch + "train: {lr: 0.003, max_steps: 60, warmup_steps: 5}\n"), *set);
  for (int pass = 0; pass < 3; ++pass)
    for (std::size_t i = 0; i < half && base->step() < 60; ++i)
      ASSERT_TRUE(base->train_step(train_batches[i]));
  // The small labelled subset: 3 batches (48 mails) from the other half.
  std::vector<data_batch> subset(train_batches.begin() + static_cast<long>(half),
                                 train_batches.begin() + static_cast<long>(half + 3));
  auto tune = spec_of(arch + "lora: {rank: 4, alpha: 8}\n"
                             "train: {lr: 0.005, max_steps: 30, warmup_steps: 3}\n");
  ASSERT_FALSE(base->fine_tune("lora", tune, set->labels));
  const auto total = base->parameter_count();
  auto scratch =
      make_engine(spec_of(arch + "train: {lr: 0.005, max_steps: 30, warmup_steps: 3}\n"), *set);
  for (int epoch = 0; epoch < 10; ++epoch)
    for (auto& b : subset) {
      ASSERT_TRUE(base->train_step(b));
      ASSERT_TRUE(scratch->train_step(b));
    }
  auto tuned_eval = evaluate(*base, *set);
  auto scratch_eval = evaluate(*scratch, *set);
  EXPECT_GT(tuned_eval.metrics.accuracy, scratch_eval.metrics.accuracy)
      << "LoRA " << tuned_eval.metrics.accuracy << " vs scratch " << scratch_eval.metrics.accuracy;

  auto val = set->batches("validation", 64).front();
  auto before = base->infer(val.inputs);
  base->merge_adapters();
  EXPECT_LT(base->parameter_count(), total) << "adapters are gone after merging";
  auto after = base->infer(val.inputs);
  ASSERT_TRUE(before && after);
  for (std::size_t i = 0; i < before->size(); ++i)
    for (std::size_t c = 0; c < (*before)[i].probabilities.size(); ++c)
      EXPECT_NEAR((*before)[i].probabilities[c], (*after)[i].probabilities[c], 1e-4);
}

TEST(engine_state, int8_model_agrees_with_float_on_99_percent) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed";
  auto e = make_engine(
      spec_of("model: q\narchitecture: transformer\n"
              "hyper: {embed_dim: 32, heads: 4, layers: 1, ff_dim: 64, max_length: 64}\n"
              "train: {lr: 0.003, max_steps: 40, warmup_steps: 5}\n"),
      *set);
  train(*e, *set, 40, 32);
  std::vector<int64_t> floats;
  auto val = set->batches("validation", 64);
  for (auto& b : val) {
    auto preds = e->infer(b.inputs);
    ASSERT_TRUE(preds) << describe(preds.error());
    for (auto& p : *preds)
      floats.push_back(p.index);
  }
  auto err = e->quantize_int8();
  ASSERT_FALSE(err) << describe(err);
  EXPECT_TRUE(e->quantized());
  std::size_t i = 0, same = 0;
  for (auto& b : val) {
    auto preds = e->infer(b.inputs);
    ASSERT_TRUE(preds) << describe(preds.error());
    for (auto& p : *preds)
      same += p.index == floats[i++];
  }
  ASSERT_GT(i, 100u);
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(i), 0.99) << same << "/" << i;
  EXPECT_FALSE(e->train_step(val.front())) << "a quantized model refuses training";
}

} // namespace
} // namespace llmos::model::testing
