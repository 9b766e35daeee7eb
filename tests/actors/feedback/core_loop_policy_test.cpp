// Parsing loop policy files: a full file with every field, the defaults, paths taken from the
// policy file's folder, and a refusal for each kind of mistake that names the file, the line
// and the field.
#include <string>

#include <gtest/gtest.h>

#include "feedback/core/loop_policy.hpp"
#include "llmos/messages/error.hpp"
#include "test_support.hpp"

using namespace llmos::feedback;
using llmos::feedback::testing::context_of;
using llmos::feedback::testing::temp_folder;
using llmos::feedback::testing::write_bytes;

namespace {

const char* const full_file = R"(# retrain the spam filter from people's corrections
model: spam-bag
server: spam-serve
registry: reg
scheduler: sched2
alias: prod
triggers:
  min_corrections: 50
  accuracy_below: 0.9
  min_labelled: 60
  psi_above: 0.25
  window: 300
  cooldown_s: 45
finetune:
  dataset: spam-early
  spec: model.yaml
  steps: 250
  lr: 0.001
  holdout: 0.25
  timeout_s: 900
  feedback_weight: 3
evaluate:
  margin: 0.03
  max_heldout_drop: 0.01
canary:
  share: 0.1
  min_labelled: 30
  margin: 0.01
  max_s: 300
)";

// Lines 1-5 of every minimal policy; `extra` starts at line 6.
const std::string minimal = "model: spam-bag\n"
                            "server: spam-serve\n"
                            "finetune:\n"
                            "  dataset: spam-early\n"
                            "  spec: model.yaml\n";

class loop_policy_test : public ::testing::Test {
protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "data");
    write_bytes(dir_ / "data/base.yaml", "sources: []\n");
    write_bytes(dir_ / "model.yaml", "model: bag\n");
    file_ = dir_ / "loop.yaml";
  }

  /// The error text of parsing `text` as the policy file in the folder; "" when it parses.
  std::string refusal_of(const std::string& text) {
    auto p = parse_loop_policy(text, file_);
    if (!p) {
      EXPECT_EQ(p.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
    }
    return p ? std::string{} : context_of(p.error());
  }

  /// The refusal must start with "FILE:LINE: FIELD:" (the rest is checked where it matters).
  void expect_refusal(const std::string& text, int line, const std::string& start) {
    const auto got = refusal_of(text);
    const auto prefix = file_ + ":" + std::to_string(line) + ": " + start;
    EXPECT_EQ(got.substr(0, prefix.size()), prefix) << got;
  }

  temp_folder dir_;
  std::string file_;
};

TEST_F(loop_policy_test, parses_every_field) {
  auto p = parse_loop_policy(full_file, file_);
  ASSERT_TRUE(p) << context_of(p.error());
  EXPECT_EQ(p->file, file_);
  EXPECT_EQ(p->model, "spam-bag");
  EXPECT_EQ(p->server, "spam-serve");
  EXPECT_EQ(p->registry, "reg");
  EXPECT_EQ(p->scheduler, "sched2");
  EXPECT_EQ(p->alias, "prod");
  // Each section compared whole, every field named.
  EXPECT_EQ(p->triggers, (trigger_policy{.min_corrections = 50,
                                         .accuracy_below = 0.9,
                                         .min_labelled = 60,
                                         .psi_above = 0.25,
                                         .window = 300,
                                         .cooldown_s = 45}));
  EXPECT_EQ(p->finetune, (finetune_policy{.dataset = "spam-early",
                                          .spec = dir_ / "model.yaml", // relative to the policy
                                          .steps = 250,
                                          .lr = 0.001,
                                          .holdout = 0.25,
                                          .timeout_s = 900,
                                          .feedback_weight = 3}));
  EXPECT_EQ(p->evaluate, (evaluate_policy{.margin = 0.03, .max_heldout_drop = 0.01}));
  EXPECT_EQ(p->canary,
            (canary_policy{.share = 0.1, .min_labelled = 30, .margin = 0.01, .max_s = 300}));
}

TEST_F(loop_policy_test, defaults) {
  auto p = parse_loop_policy(minimal, file_);
  ASSERT_TRUE(p) << context_of(p.error());
  EXPECT_EQ(p->registry, "registry");
  EXPECT_EQ(p->scheduler, "sched");
  EXPECT_EQ(p->alias, "production");
  EXPECT_EQ(p->triggers, (trigger_policy{.min_corrections = 0,
                                         .accuracy_below = 0,
                                         .min_labelled = 50,
                                         .psi_above = 0,
                                         .window = 200,
                                         .cooldown_s = 30}));
  EXPECT_EQ(p->finetune.steps, 200u);
  EXPECT_EQ(p->finetune.lr, 0.0);
  EXPECT_EQ(p->finetune.holdout, 0.3);
  EXPECT_EQ(p->finetune.timeout_s, 1800.0);
  EXPECT_EQ(p->finetune.feedback_weight, 1u);
  EXPECT_EQ(p->evaluate, (evaluate_policy{.margin = 0.02, .max_heldout_drop = 0.02}));
  EXPECT_EQ(p->canary,
            (canary_policy{.share = 0.2, .min_labelled = 40, .margin = 0, .max_s = 600}));
  // An empty section is all defaults.
  EXPECT_TRUE(parse_loop_policy(minimal + "triggers:\n", file_));
}

TEST_F(loop_policy_test, load_reads_the_file_and_keeps_absolute_paths) {
  write_bytes(file_, "model: m\nserver: s\nfinetune:\n  dataset: d\n  spec: " +
                         (dir_ / "data/base.yaml") + "\n");
  auto p = load_loop_policy(file_);
  ASSERT_TRUE(p) << context_of(p.error());
  EXPECT_EQ(p->finetune.spec, dir_ / "data/base.yaml");
  auto missing = load_loop_policy(dir_ / "nope.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(context_of(missing.error()),
            dir_ / "nope.yaml" + ": cannot read the loop policy file; check the path");
}

TEST_F(loop_policy_test, required_fields) {
  expect_refusal("server: s\nfinetune: {dataset: d, spec: model.yaml}\n", 1, "model: missing;");
  expect_refusal("model: m\nfinetune: {dataset: d, spec: model.yaml}\n", 1, "server: missing;");
  expect_refusal("model: m\nserver: s\n", 1, "finetune: missing;");
  expect_refusal("model: m\nserver: s\nfinetune:\n  spec: model.yaml\n", 3,
                 "finetune.dataset: missing; name the data set actor");
  expect_refusal("model: m\nserver: s\nfinetune:\n  dataset: d\n", 3, "finetune.spec: missing;");
  expect_refusal("model: m\nserver: s\nfinetune:\n  dataset: spam early\n  spec: model.yaml\n", 4,
                 "'finetune.dataset' is 'spam early', which is not a valid name");
}

TEST_F(loop_policy_test, paths_must_exist) {
  EXPECT_EQ(refusal_of("model: m\nserver: s\nfinetune:\n  dataset: d\n"
                       "  spec: nope.yaml\n"),
            file_ + ":5: finetune.spec: '" + (dir_ / "nope.yaml") +
                "' is not a file; give the model spec file as an absolute path or one relative "
                "to the policy file's folder");
  expect_refusal("model: m\nserver: s\nfinetune:\n  dataset: d\n  spec: data\n", 5,
                 "finetune.spec: '" + (dir_ / "data") + "' is not a file;");
}

TEST_F(loop_policy_test, unknown_keys_get_a_suggestion) {
  EXPECT_EQ(refusal_of("modle: m\n"),
            file_ + ":1: unknown key 'modle'; did you mean 'model'? (known keys in a loop "
                    "policy: model, server, registry, scheduler, alias, triggers, finetune, "
                    "evaluate, canary)");
  expect_refusal(minimal + "triggers:\n  min_correction: 5\n", 7,
                 "unknown key 'min_correction'; did you mean 'min_corrections'?");
  expect_refusal(minimal + "canary: {share: 0.1, sharre: 0.2}\n", 6, "unknown key 'sharre'");
  expect_refusal(minimal + "model: again\n", 6, "key 'model' appears twice");
}

TEST_F(loop_policy_test, bad_values_name_the_field_and_the_range) {
  EXPECT_EQ(refusal_of(minimal + "triggers:\n  accuracy_below: 1.5\n"),
            file_ + ":7: triggers.accuracy_below: 1.5 is out of range; write a number from 0 "
                    "to 1, the window accuracy below which a round starts (0 = off)");
  EXPECT_EQ(refusal_of(minimal + "triggers:\n  window: lots\n"),
            file_ + ":7: triggers.window: 'lots' is not a whole number from 1 to 1000000; "
                    "recent requests and outcomes the analysis keeps");
  expect_refusal(minimal + "triggers:\n  min_labelled: 0\n", 7, "triggers.min_labelled: '0'");
  expect_refusal(minimal + "triggers:\n  min_corrections: -3\n", 7,
                 "triggers.min_corrections: '-3' is not a whole number");
  expect_refusal(minimal + "triggers:\n  psi_above: -0.1\n", 7,
                 "triggers.psi_above: -0.1 is out of range");
  expect_refusal(minimal + "triggers:\n  cooldown_s: soon\n", 7,
                 "triggers.cooldown_s: 'soon' is not a number");
  expect_refusal(minimal + "  holdout: 0.95\n", 6, "finetune.holdout: 0.95 is out of range");
  expect_refusal(minimal + "  steps: 0\n", 6, "finetune.steps: '0' is not a whole number");
  expect_refusal(minimal + "  timeout_s: 0\n", 6, "finetune.timeout_s: 0 is out of range");
  expect_refusal(minimal + "  lr: [1]\n", 6, "'finetune.lr' must be a single value");
  expect_refusal(minimal + "evaluate:\n  margin: abc\n", 7, "evaluate.margin: 'abc' is not a");
  expect_refusal(minimal + "evaluate:\n  max_heldout_drop: 2\n", 7,
                 "evaluate.max_heldout_drop: 2 is out of range");
  EXPECT_EQ(refusal_of(minimal + "canary:\n  share: 1\n"),
            file_ + ":7: canary.share: 1 is out of range; write a number above 0 and below 1, "
                    "the share of traffic the canary gets, e.g. 0.2");
  expect_refusal(minimal + "canary:\n  share: 0\n", 7, "canary.share: 0 is out of range");
  expect_refusal(minimal + "canary:\n  max_s: 0\n", 7, "canary.max_s: 0 is out of range");
  expect_refusal(minimal + "canary:\n  min_labelled: 0\n", 7, "canary.min_labelled: '0'");
  expect_refusal(minimal + "canary: [0.1]\n", 6, "canary: must be a map of settings");
  expect_refusal("model: spam bag\nserver: s\n", 1, "'model' is 'spam bag', which is not a valid");
}

TEST_F(loop_policy_test, yaml_syntax_errors_name_the_line) {
  expect_refusal(minimal + "triggers: {window: [\n", 7, "YAML syntax error");
  expect_refusal("- a list\n", 1, "a loop policy is a map");
}

} // namespace
