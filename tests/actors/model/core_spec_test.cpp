// The model file: every section is read, to_yaml round-trips, the shipped examples parse, each
// kind of mistake is refused with its line and the fix, and command-line overrides are checked
// like the file.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "model/core/model_spec.hpp"

namespace {

using llmos::model::apply_overrides;
using llmos::model::model_spec;
using llmos::model::parse_model_spec;

const std::string where = "models/m.yaml";

std::string refusal(const std::string& yaml) {
  auto spec = parse_model_spec(yaml, where);
  EXPECT_FALSE(spec) << "accepted:\n" << yaml;
  if (spec)
    return {};
  EXPECT_EQ(spec.error().code(), static_cast<uint8_t>(llmos::error_code::bad_config));
  return llmos::describe(spec.error());
}

std::string override_refusal(const model_spec& spec, std::map<std::string, std::string> kv) {
  auto result = apply_overrides(spec, kv);
  EXPECT_FALSE(result) << "accepted overrides";
  if (result)
    return {};
  EXPECT_EQ(result.error().code(), static_cast<uint8_t>(llmos::error_code::bad_params));
  return llmos::describe(result.error());
}

void expect_prefix(const std::string& message, const std::string& prefix) {
  EXPECT_EQ(message.substr(0, prefix.size()), prefix) << "whole message: " << message;
}

model_spec parsed(const std::string& yaml) {
  auto spec = parse_model_spec(yaml, where);
  EXPECT_TRUE(spec) << llmos::describe(spec.error());
  return spec ? *spec : model_spec{};
}

TEST(model_spec, reads_every_section) {
  auto spec = parsed(R"(model: spam-bag
architecture: transformer
hyper: {vocab_size: 500, num_classes: 3, embed_dim: 96, hidden_dim: 48, layers: 3, heads: 6,
        ff_dim: 200, max_length: 64, dropout: 0.25, conv_channels: [8, 16, 32], image_size: 32}
lora: {rank: 8, alpha: 32}
train:
  optimizer: sgd
  lr: 2e-3
  weight_decay: 0
  momentum: 0.8
  batch_size: 16
  max_steps: 300
  warmup_steps: 30
  min_lr_ratio: 0.05
  clip_norm: 0
  accumulation: 4
  eval_every: 50
  patience: 2
  seed: 18446744073709551615
  precision: bf16
  freeze: backbone
)");
  EXPECT_EQ(spec.name, "spam-bag");
  EXPECT_EQ(spec.architecture, "transformer");
  EXPECT_EQ(spec.vocab_size, 500);
  EXPECT_EQ(spec.num_classes, 3);
  EXPECT_EQ(spec.embed_dim, 96);
  EXPECT_EQ(spec.hidden_dim, 48);
  EXPECT_EQ(spec.layers, 3);
  EXPECT_EQ(spec.heads, 6);
  EXPECT_EQ(spec.ff_dim, 200);
  EXPECT_EQ(spec.max_length, 64);
  EXPECT_DOUBLE_EQ(spec.dropout, 0.25);
  EXPECT_EQ(spec.conv_channels, (std::vector<int64_t>{8, 16, 32}));
  EXPECT_EQ(spec.image_size, 32);
  EXPECT_EQ(spec.lora_rank, 8);
  EXPECT_DOUBLE_EQ(spec.lora_alpha, 32);
  EXPECT_EQ(spec.optimizer, "sgd");
  EXPECT_DOUBLE_EQ(spec.lr, 0.002);
  EXPECT_DOUBLE_EQ(spec.weight_decay, 0);
  EXPECT_DOUBLE_EQ(spec.momentum, 0.8);
  EXPECT_EQ(spec.batch_size, 16);
  EXPECT_EQ(spec.max_steps, 300);
  EXPECT_EQ(spec.warmup_steps, 30);
  EXPECT_DOUBLE_EQ(spec.min_lr_ratio, 0.05);
  EXPECT_DOUBLE_EQ(spec.clip_norm, 0);
  EXPECT_EQ(spec.accumulation, 4);
  EXPECT_EQ(spec.eval_every, 50);
  EXPECT_EQ(spec.patience, 2);
  EXPECT_EQ(spec.seed, UINT64_MAX);
  EXPECT_EQ(spec.precision, "bf16");
  EXPECT_EQ(spec.freeze, "backbone");
}

TEST(model_spec, defaults_apply_to_missing_keys) {
  auto spec = parsed("model: tiny\narchitecture: bag\n");
  model_spec expected;
  expected.name = "tiny";
  expected.architecture = "bag";
  EXPECT_EQ(spec, expected);
  EXPECT_EQ(spec.freeze, "");
  EXPECT_EQ(parsed("model: t\narchitecture: bag\ntrain: {freeze: none}\n").freeze, "");
}

TEST(model_spec, to_yaml_round_trips) {
  model_spec spec;
  spec.name = "odd.name-1";
  spec.architecture = "cnn";
  spec.conv_channels = {3, 5, 7};
  spec.dropout = 0.1 + 0.2; // not exactly 0.3: the text must keep every bit
  spec.lr = 1.0 / 3.0;
  spec.lora_rank = 4;
  spec.lora_alpha = 8.5;
  spec.seed = UINT64_MAX - 1;
  spec.freeze = "backbone";
  spec.precision = "bf16";
  // Jinja text with every character YAML and JSON care about.
  spec.chat_template = "{% for m in messages %}{{ '<|' + m['role'] + \"|>\\n\" }}: #x\t\\ "
                       "{{ m.content }}{% endfor %}\n  é";
  auto back = parse_model_spec(to_yaml(spec), "checkpoint");
  ASSERT_TRUE(back) << llmos::describe(back.error()) << "\n" << to_yaml(spec);
  EXPECT_EQ(*back, spec);

  model_spec plain;
  plain.name = "-"; // a valid name that YAML would read as a list marker unquoted
  plain.architecture = "gpt";
  auto back_plain = parse_model_spec(to_yaml(plain), "checkpoint");
  ASSERT_TRUE(back_plain) << llmos::describe(back_plain.error());
  EXPECT_EQ(*back_plain, plain);
  EXPECT_NE(*back_plain, spec);
  EXPECT_EQ(to_yaml(plain).find("chat_template"), std::string::npos)
      << "a spec without a template does not change";
}

TEST(model_spec, shipped_examples_parse) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path{LLMOS_SOURCE_DIR} / "nodes/examples/models";
  std::set<std::string> architectures;
  int files = 0;
  for (const auto& item : fs::directory_iterator{dir}) {
    if (item.path().extension() != ".yaml")
      continue;
    ++files;
    auto spec = llmos::model::load_model_spec(item.path().string());
    ASSERT_TRUE(spec) << llmos::describe(spec.error());
    EXPECT_EQ(spec->name, item.path().stem().string()) << "file name and model name differ";
    architectures.insert(spec->architecture);
  }
  EXPECT_GE(files, 5);
  for (const auto& kind : llmos::model::known_architectures())
    EXPECT_TRUE(architectures.count(kind)) << "no example for " << kind;
}

TEST(model_spec, missing_file_names_the_path) {
  auto spec = llmos::model::load_model_spec("/nonexistent/dir/m.yaml");
  ASSERT_FALSE(spec);
  EXPECT_NE(llmos::describe(spec.error()).find("/nonexistent/dir/m.yaml"), std::string::npos);
}

TEST(model_spec, refuses_each_kind_of_mistake_with_its_line) {
  struct mistake {
    std::string yaml;
    std::string expected; ///< the whole message must start with it
  };
  const std::vector<mistake> mistakes{
      {"- a\n- b\n", "models/m.yaml:1: a model file is a map"},
      {"", "models/m.yaml:1: a model file is a map"},
      {"architecture: bag\n", "models/m.yaml:1: missing 'model: NAME'"},
      {"model: m\n", "models/m.yaml:1: missing 'architecture: KIND' (one of: bag, bilstm"},
      {"model: m\narchitecture: bag\nhyperr: {}\n",
       "models/m.yaml:3: unknown key 'hyperr'; did you mean 'hyper'?"},
      {"model: m\narchitecture: bag\nhyper:\n  embed_dims: 4\n",
       "models/m.yaml:4: unknown key 'embed_dims'; did you mean 'embed_dim'?"},
      {"model: m\narchitecture: bag\ntrain:\n  lr: 0.1\n  lr: 0.2\n",
       "models/m.yaml:5: key 'lr' appears twice"},
      {"model: m\narchitecture: lstm\n", "models/m.yaml:2: 'architecture' is 'lstm'; did you "
                                         "mean 'bilstm'? (one of: bag, bilstm, transformer, gpt, "
                                         "llama, cnn)"},
      {"model: m\narchitecture: bag\n\nhyper: 3\n", "models/m.yaml:4: 'hyper' must be a map"},
      {"model: m\narchitecture: bag\nhyper:\n  embed_dim: [1]\n",
       "models/m.yaml:4: 'embed_dim' must be a single value, but it is a list"},
      {"model: m\narchitecture: bag\nhyper:\n  embed_dim: sixty\n",
       "models/m.yaml:4: 'embed_dim' must be a whole number between 1 and 65536, got 'sixty'"},
      {"model: m\narchitecture: bag\nhyper:\n  embed_dim: 0\n",
       "models/m.yaml:4: 'embed_dim' is 0, out of range"},
      {"model: m\narchitecture: bag\nhyper:\n  dropout: 1\n",
       "models/m.yaml:4: 'dropout' is 1, out of range; it must be in [0, 1)"},
      {"model: m\narchitecture: bag\nhyper:\n  dropout: nan\n",
       "models/m.yaml:4: 'dropout' is nan, out of range"},
      {"model: m\narchitecture: bag\ntrain:\n  lr: fast\n",
       "models/m.yaml:4: 'lr' must be a number in (0, 10], got 'fast'"},
      {"model: m\narchitecture: bag\ntrain:\n  lr: 0\n",
       "models/m.yaml:4: 'lr' is 0, out of range"},
      {"model: m\narchitecture: bag\ntrain: {optimizer: adam}\n",
       "models/m.yaml:3: 'optimizer' is 'adam'; did you mean 'adamw'?"},
      {"model: m\narchitecture: bag\ntrain: {precision: fp16}\n",
       "models/m.yaml:3: 'precision' is 'fp16'; did you mean 'bf16'? (one of: f32, bf16)"},
      {"model: m\narchitecture: bag\ntrain: {freeze: all}\n",
       "models/m.yaml:3: 'freeze' is 'all'; (one of: none, backbone)"},
      {"model: bad name\narchitecture: bag\n",
       "models/m.yaml:1: 'model' is 'bad name', which is not a valid name"},
      {"model: m\narchitecture: cnn\nhyper:\n  conv_channels: []\n",
       "models/m.yaml:4: 'conv_channels' is empty"},
      {"model: m\narchitecture: cnn\nhyper:\n  conv_channels:\n    - 8\n    - 0\n",
       "models/m.yaml:6: 'conv_channels' is 0, out of range"},
      {"model: m\narchitecture: bag\nlora: {rank: -1}\n",
       "models/m.yaml:3: 'rank' is -1, out of range; it must be between 0 and 4096"},
      {"model: m\narchitecture: bag\ntrain: {max_steps: 10, warmup_steps: 20}\n",
       "models/m.yaml:3: warmup_steps (20) is larger than max_steps (10)"},
      {"model: m\narchitecture: bag\nhyper: {a: 1\n",
       "models/m.yaml:4: YAML syntax error: end of map flow not found"},
  };
  for (const auto& m : mistakes) {
    SCOPED_TRACE(m.yaml);
    expect_prefix(refusal(m.yaml), "bad_config: " + m.expected);
  }
}

TEST(model_spec, llama_needs_kv_heads_dividing_heads_and_an_even_head_size) {
  auto ok = parse_model_spec("model: m\narchitecture: llama\n"
                             "hyper: {embed_dim: 64, heads: 8, kv_heads: 4, tied: 0}\n",
                             "m.yaml");
  ASSERT_TRUE(ok) << llmos::describe(ok.error());
  EXPECT_EQ(ok->kv_heads, 4);
  EXPECT_EQ(ok->tied, 0);
  EXPECT_TRUE(llmos::model::is_language_model(ok->architecture));
  auto back = parse_model_spec(llmos::model::to_yaml(*ok), "again.yaml");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, *ok);
  auto kv = parse_model_spec("model: m\narchitecture: llama\n"
                             "hyper: {embed_dim: 64, heads: 8, kv_heads: 3}\n",
                             "m.yaml");
  ASSERT_FALSE(kv);
  EXPECT_NE(llmos::describe(kv.error()).find("kv_heads (3) must divide heads (8)"),
            std::string::npos)
      << llmos::describe(kv.error());
  auto odd = parse_model_spec("model: m\narchitecture: llama\n"
                              "hyper: {embed_dim: 24, heads: 8}\n",
                              "m.yaml");
  ASSERT_FALSE(odd);
  EXPECT_NE(llmos::describe(odd.error()).find("must be even"), std::string::npos)
      << llmos::describe(odd.error());
}

TEST(model_spec, heads_must_divide_embed_dim_for_attention) {
  const std::string yaml = "model: m\narchitecture: ARCH\nhyper:\n  embed_dim: 30\n  heads: 4\n";
  for (std::string arch : {"transformer", "gpt"}) {
    auto text = yaml;
    text.replace(text.find("ARCH"), 4, arch);
    EXPECT_EQ(refusal(text),
              "bad_config: models/m.yaml:5: heads (4) must divide embed_dim (30) for " + arch +
                  ": each head attends over embed_dim / heads dimensions; use "
                  "heads 1, 2, 3, 5, 6, 10, 15, 30 or change embed_dim");
  }
  // Only embed_dim written: the refusal points at it.
  expect_prefix(refusal("model: m\narchitecture: gpt\nhyper: \n  embed_dim: 30\n"),
                "bad_config: models/m.yaml:4: heads (4) must divide embed_dim (30)");
  // The bag has no attention, so any pair is fine.
  EXPECT_EQ(parsed("model: m\narchitecture: bag\nhyper: {embed_dim: 30, heads: 4}\n").heads, 4);
}

TEST(model_spec, overrides_change_fields) {
  auto spec = parsed("model: m\narchitecture: cnn\n");
  auto changed = apply_overrides(spec, {{"lr", "0.01"},
                                        {"embed_dim", "32"},
                                        {"lora_rank", " 4 "},
                                        {"optimizer", "sgd"},
                                        {"conv_channels", "8, 16,64"},
                                        {"freeze", "backbone"},
                                        {"seed", "99"},
                                        {"name", "m2"}});
  ASSERT_TRUE(changed) << llmos::describe(changed.error());
  EXPECT_DOUBLE_EQ(changed->lr, 0.01);
  EXPECT_EQ(changed->embed_dim, 32);
  EXPECT_EQ(changed->lora_rank, 4);
  EXPECT_EQ(changed->optimizer, "sgd");
  EXPECT_EQ(changed->conv_channels, (std::vector<int64_t>{8, 16, 64}));
  EXPECT_EQ(changed->freeze, "backbone");
  EXPECT_EQ(changed->seed, 99u);
  EXPECT_EQ(changed->name, "m2");
  EXPECT_EQ(changed->max_steps, spec.max_steps);
  auto bracketed = apply_overrides(spec, {{"conv_channels", "[4,4]"}, {"freeze", ""}});
  ASSERT_TRUE(bracketed) << llmos::describe(bracketed.error());
  EXPECT_EQ(bracketed->conv_channels, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(bracketed->freeze, "");
  EXPECT_EQ(*apply_overrides(spec, {}), spec);
}

TEST(model_spec, overrides_are_checked) {
  auto spec = parsed("model: m\narchitecture: gpt\n");
  expect_prefix(
      override_refusal(spec, {{"embed_dims", "8"}}),
      "bad_params: model 'm': unknown override 'embed_dims'; did you mean 'embed_dim'? (known: "
      "name, architecture, chat_template, vocab_size,");
  EXPECT_NE(override_refusal(spec, {{"lora_rnak", "2"}}).find("did you mean 'lora_rank'?"),
            std::string::npos);
  EXPECT_EQ(override_refusal(spec, {{"lr", "-1"}}),
            "bad_params: model 'm': override lr=-1: 'lr' is -1, out of range; it must be in (0, "
            "10]; the peak "
            "learning rate, e.g. 0.001");
  expect_prefix(override_refusal(spec, {{"batch_size", "many"}}),
                "bad_params: model 'm': override batch_size=many: 'batch_size' must be a whole "
                "number between "
                "1 and 1000000, got 'many'");
  EXPECT_NE(override_refusal(spec, {{"optimizer", "sgdd"}}).find("did you mean 'sgd'?"),
            std::string::npos);
  EXPECT_NE(override_refusal(spec, {{"conv_channels", "8,,16"}}).find("got ''"), std::string::npos);
  // Checks between fields run on the result: heads 5 does not divide embed_dim 64.
  expect_prefix(override_refusal(spec, {{"heads", "5"}}),
                "bad_params: model 'm' with heads=5: heads (5) must divide embed_dim (64) for gpt");
  // Both together are fine.
  auto both = apply_overrides(spec, {{"heads", "5"}, {"embed_dim", "80"}});
  ASSERT_TRUE(both) << llmos::describe(both.error());
  EXPECT_EQ(both->heads, 5);
  // A spec built in code is checked field by field too.
  model_spec unnamed;
  unnamed.architecture = "bag";
  EXPECT_NE(override_refusal(unnamed, {}).find("not a valid name"), std::string::npos);
}

} // namespace
