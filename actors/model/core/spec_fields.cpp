#include "model/core/spec_fields.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "llmos/runtime/suggest.hpp"

namespace llmos::model::spec_fields {

using yaml_fields::entry;
using yaml_fields::refuse;

namespace {

/// Shortest text that reads back to exactly `v` (to_yaml must round-trip bit for bit).
std::string print_real(double v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

/// Allowed values of a real field; open ends exclude the bound.
struct interval {
  double lo;
  double hi;
  bool lo_open = false;
  bool hi_open = false;

  bool contains(double v) const {
    // Written so that NaN is outside.
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }

  std::string text() const {
    return (lo_open ? "(" : "[") + print_real(lo) + ", " + print_real(hi) + (hi_open ? ")" : "]");
  }
};

double read_real(const entry& e, const interval& range, const std::string& hint) {
  const auto text = yaml_fields::read_string(e);
  double v = 0;
  const char* end = text.data() + text.size();
  auto res = std::from_chars(text.data(), end, v);
  if (text.empty() || res.ec != std::errc{} || res.ptr != end)
    refuse(e.line,
           "'" + e.key + "' must be a number in " + range.text() + ", got '" + text + "'; " + hint);
  if (!range.contains(v))
    refuse(e.line, "'" + e.key + "' is " + text + ", out of range; it must be in " + range.text() +
                       "; " + hint);
  return v;
}

field whole(std::string section, std::string key, std::string name, int64_t model_spec::*member,
            int64_t lo, int64_t hi, std::string hint) {
  return {std::move(section), std::move(key), std::move(name),
          [=](model_spec& s, const entry& e) {
            s.*member = static_cast<int64_t>(yaml_fields::read_unsigned(
                e, static_cast<uint64_t>(lo), static_cast<uint64_t>(hi), hint));
          },
          [=](const model_spec& s) { return std::to_string(s.*member); }};
}

field real(std::string section, std::string key, std::string name, double model_spec::*member,
           interval range, std::string hint) {
  return {std::move(section), std::move(key), std::move(name),
          [=](model_spec& s, const entry& e) { s.*member = read_real(e, range, hint); },
          [=](const model_spec& s) { return print_real(s.*member); }};
}

field choice(std::string section, std::string key, std::string name,
             std::string model_spec::*member, std::vector<std::string> choices) {
  return {std::move(section), std::move(key), std::move(name),
          [=](model_spec& s, const entry& e) { s.*member = read_choice(e, choices); },
          [=](const model_spec& s) { return s.*member; }};
}

// Names are quoted because a valid name such as "-" or "1.0" means something else to YAML.
field name_field() {
  return {"", "model", "name",
          [](model_spec& s, const entry& e) { s.name = yaml_fields::read_name(e); },
          [](const model_spec& s) { return "\"" + s.name + "\""; }};
}

// "none" is how a file says "" (an empty YAML value is a null, not an empty string).
field freeze_field() {
  return {"train", "freeze", "freeze",
          [](model_spec& s, const entry& e) {
            if (e.value.IsScalar() && e.value.Scalar().empty()) {
              s.freeze.clear();
              return;
            }
            auto v = read_choice(e, {"none", "backbone"});
            s.freeze = v == "none" ? "" : v;
          },
          [](const model_spec& s) { return s.freeze.empty() ? std::string{"none"} : s.freeze; }};
}

// Free text (Jinja, quotes and newlines), printed as a JSON string: YAML's double-quoted
// scalars read JSON's escapes. Unset prints nothing, so specs without one do not change.
field chat_template_field() {
  return {"", "chat_template", "chat_template",
          [](model_spec& s, const entry& e) {
            if (e.value.IsNull() || (e.value.IsScalar() && e.value.Scalar().empty())) {
              s.chat_template.clear();
              return;
            }
            auto text = yaml_fields::read_string(e);
            if (text.size() > 65536)
              refuse(e.line, "'" + e.key + "' has " + std::to_string(text.size()) +
                                 " bytes; chat templates of up to 65536 are kept");
            s.chat_template = std::move(text);
          },
          [](const model_spec& s) {
            return s.chat_template.empty()
                       ? std::string{}
                       : nlohmann::json(s.chat_template)
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
          }};
}

// A YAML list in files, "16,32" (brackets optional) on the command line.
field channels_field() {
  const std::string hint = "output channels of one convolution block";
  auto read = [hint](model_spec& s, const entry& e) {
    std::vector<entry> items;
    if (e.value.IsSequence()) {
      for (const auto& item : e.value)
        items.push_back(entry{e.key, yaml_fields::line_of(item), item});
    } else {
      auto text = yaml_fields::trim(yaml_fields::read_string(e));
      if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
      for (std::size_t start = 0; !yaml_fields::trim(text).empty() && start <= text.size();) {
        auto comma = std::min(text.find(',', start), text.size());
        items.push_back(
            entry{e.key, e.line, YAML::Node(yaml_fields::trim(text.substr(start, comma - start)))});
        start = comma + 1;
      }
    }
    if (items.empty())
      refuse(e.line, "'" + e.key +
                         "' is empty; give the channels of each convolution block, "
                         "e.g. [16, 32]");
    std::vector<int64_t> channels;
    for (const auto& item : items)
      channels.push_back(static_cast<int64_t>(yaml_fields::read_unsigned(item, 1, 4096, hint)));
    s.conv_channels = std::move(channels);
  };
  auto print = [](const model_spec& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.conv_channels.size(); ++i)
      out += (i ? ", " : "") + std::to_string(s.conv_channels[i]);
    return out + "]";
  };
  return {"hyper", "conv_channels", "conv_channels", read, print};
}

// Not read_unsigned: it refuses numbers of twenty digits, and seeds use all 64 bits (a seed a
// checkpoint stored must read back).
field seed_field() {
  return {"train", "seed", "seed",
          [](model_spec& s, const entry& e) {
            const auto text = yaml_fields::read_string(e);
            const char* end = text.data() + text.size();
            uint64_t v = 0;
            auto res = std::from_chars(text.data(), end, v);
            if (text.empty() || res.ec != std::errc{} || res.ptr != end)
              refuse(e.line, "'" + e.key + "' must be a whole number between 0 and " +
                                 std::to_string(UINT64_MAX) + ", got '" + text +
                                 "'; the same seed repeats a run");
            s.seed = v;
          },
          [](const model_spec& s) { return std::to_string(s.seed); }};
}

/// The network's shape (`hyper:`) and its LoRA adapters (`lora:`).
std::vector<field> shape_fields() {
  using m = model_spec;
  return {
      whole("hyper", "vocab_size", "vocab_size", &m::vocab_size, 0, 10'000'000,
            "0 takes the data set tokenizer's vocabulary size"),
      whole("hyper", "num_classes", "num_classes", &m::num_classes, 0, 1'000'000,
            "0 takes the number of labels of the data set"),
      whole("hyper", "embed_dim", "embed_dim", &m::embed_dim, 1, 65536,
            "the width of the token embeddings"),
      whole("hyper", "hidden_dim", "hidden_dim", &m::hidden_dim, 1, 65536,
            "the LSTM hidden size or the CNN dense layer width"),
      whole("hyper", "layers", "layers", &m::layers, 1, 256, "stacked LSTM or transformer layers"),
      whole("hyper", "heads", "heads", &m::heads, 1, 1024,
            "attention heads; they must divide embed_dim"),
      whole("hyper", "ff_dim", "ff_dim", &m::ff_dim, 1, 1'000'000,
            "the width of the transformer feed-forward layer"),
      whole("hyper", "kv_heads", "kv_heads", &m::kv_heads, 0, 1024,
            "llama: key/value heads for grouped-query attention; 0 = heads"),
      real("hyper", "norm_eps", "norm_eps", &m::norm_eps, {0, 1, true, true},
           "llama: the RMSNorm epsilon, e.g. 1e-5"),
      real("hyper", "rope_theta", "rope_theta", &m::rope_theta, {0, 1e9, true, false},
           "llama: the rotary base, e.g. 10000"),
      whole("hyper", "tied", "tied", &m::tied, 0, 1,
            "llama: 1 when the classifier is the token embedding"),
      whole("hyper", "max_length", "max_length", &m::max_length, 1, 1'000'000,
            "tokens per sequence (the size of the positional table)"),
      real("hyper", "dropout", "dropout", &m::dropout, {0, 1, false, true},
           "the fraction of activations zeroed while training"),
      channels_field(),
      whole("hyper", "image_size", "image_size", &m::image_size, 1, 4096,
            "the width (= height) of the input images in pixels"),
      whole("lora", "rank", "lora_rank", &m::lora_rank, 0, 4096, "0 turns LoRA off"),
      real("lora", "alpha", "lora_alpha", &m::lora_alpha, {0, 1e6, true, false},
           "adapters are scaled by alpha / rank"),
  };
}

/// How it trains (`train:`).
std::vector<field> training_fields() {
  using m = model_spec;
  constexpr int64_t big = 1'000'000'000;
  return {
      choice("train", "optimizer", "optimizer", &m::optimizer, {"adamw", "sgd"}),
      real("train", "lr", "lr", &m::lr, {0, 10, true, false}, "the peak learning rate, e.g. 0.001"),
      real("train", "weight_decay", "weight_decay", &m::weight_decay, {0, 10},
           "decoupled weight decay, e.g. 0.01"),
      real("train", "momentum", "momentum", &m::momentum, {0, 1, false, true},
           "sgd momentum, e.g. 0.9"),
      whole("train", "batch_size", "batch_size", &m::batch_size, 1, 1'000'000,
            "examples per micro-batch"),
      whole("train", "max_steps", "max_steps", &m::max_steps, 1, big, "optimizer steps"),
      whole("train", "warmup_steps", "warmup_steps", &m::warmup_steps, 0, big,
            "steps of linear warm-up; 0 for none"),
      real("train", "min_lr_ratio", "min_lr_ratio", &m::min_lr_ratio, {0, 1},
           "the cosine floor as a fraction of lr"),
      real("train", "clip_norm", "clip_norm", &m::clip_norm, {0, 1e6},
           "the gradient norm limit; 0 turns clipping off"),
      whole("train", "accumulation", "accumulation", &m::accumulation, 1, 4096,
            "micro-batches per optimizer step"),
      whole("train", "eval_every", "eval_every", &m::eval_every, 0, big,
            "steps between evaluations; 0 evaluates only at the end"),
      whole("train", "patience", "patience", &m::patience, 0, 1'000'000,
            "evaluations without improvement before stopping; 0 never stops early"),
      seed_field(),
      choice("train", "precision", "precision", &m::precision, {"f32", "bf16"}),
      freeze_field(),
  };
}

std::vector<field> make_table() {
  using m = model_spec;
  std::vector<field> table{
      name_field(),
      choice("", "architecture", "architecture", &m::architecture, known_architectures()),
      chat_template_field(),
  };
  for (const auto& part : {shape_fields(), training_fields()})
    table.insert(table.end(), part.begin(), part.end());
  return table;
}

std::string divisors_of(int64_t n) {
  std::string out;
  for (int64_t d = 1; d <= n && d <= 64; ++d)
    if (n % d == 0)
      out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

} // namespace

const std::vector<field>& all() {
  static const std::vector<field> table = make_table();
  return table;
}

const field* by_name(const std::string& name) {
  for (const auto& f : all())
    if (f.name == name)
      return &f;
  return nullptr;
}

const std::vector<std::string>& names() {
  static const std::vector<std::string> list = [] {
    std::vector<std::string> out;
    for (const auto& f : all())
      out.push_back(f.name);
    return out;
  }();
  return list;
}

std::vector<std::string> keys_of(const std::string& section) {
  std::vector<std::string> out;
  for (const auto& f : all())
    if (f.section == section)
      out.push_back(f.key);
  return out;
}

std::optional<conflict> check_spec(const model_spec& spec) {
  const bool attention = spec.architecture == "transformer" || spec.architecture == "gpt" ||
                         spec.architecture == "llama";
  if (attention && spec.heads > 0 && spec.embed_dim % spec.heads != 0)
    return conflict{{"heads", "embed_dim", "architecture"},
                    "heads (" + std::to_string(spec.heads) + ") must divide embed_dim (" +
                        std::to_string(spec.embed_dim) + ") for " + spec.architecture +
                        ": each head attends over embed_dim / heads dimensions; use heads " +
                        divisors_of(spec.embed_dim) + " or change embed_dim"};
  if (spec.architecture == "llama") {
    const auto kv = spec.kv_heads > 0 ? spec.kv_heads : spec.heads;
    if (spec.heads % kv != 0)
      return conflict{{"kv_heads", "heads"},
                      "kv_heads (" + std::to_string(kv) + ") must divide heads (" +
                          std::to_string(spec.heads) +
                          "): each key/value head serves an equal group of query heads"};
    if ((spec.embed_dim / spec.heads) % 2 != 0)
      return conflict{{"heads", "embed_dim"},
                      "the head size embed_dim / heads (" +
                          std::to_string(spec.embed_dim / spec.heads) +
                          ") must be even: rotary embeddings rotate pairs of dimensions"};
  }
  if (spec.warmup_steps > spec.max_steps)
    return conflict{{"warmup_steps", "max_steps"},
                    "warmup_steps (" + std::to_string(spec.warmup_steps) +
                        ") is larger than max_steps (" + std::to_string(spec.max_steps) +
                        "), so the learning rate would never finish warming up; lower "
                        "warmup_steps or raise max_steps"};
  return std::nullopt;
}

} // namespace llmos::model::spec_fields
