// The model file: one YAML document per model naming its architecture, its hyper-parameters,
// optional LoRA adapters and how to train it. It is parsed and checked before any tensor exists,
// so a typo costs a line-numbered refusal instead of a failed run; the same checks guard the
// "key=value" overrides a user gives on the command line. The spec travels inside checkpoints as
// the YAML text to_yaml writes, so a checkpoint always says how to rebuild its model.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::model {

/// Everything needed to build and train one model (defaults are small and CPU-friendly).
struct model_spec {
  std::string name;         ///< "model:" key, required, a valid name
  std::string architecture; ///< required: "bag", "bilstm", "transformer", "gpt", "llama", "cnn"
  /// How chat messages become a prompt: the Jinja text an imported model carried (GGUF
  /// tokenizer.chat_template, Hugging Face tokenizer_config.json); "" = none. Servers recognise
  /// its family (serving/core/chat_template.hpp); it goes back out with an export.
  std::string chat_template;
  // Architecture hyper-parameters (section "hyper:").
  int64_t vocab_size = 0;  ///< 0 = take the data set tokenizer's vocabulary size
  int64_t num_classes = 0; ///< 0 = take the number of labels of the data set
  int64_t embed_dim = 64;
  int64_t hidden_dim = 128; ///< LSTM hidden size / CNN dense layer
  int64_t layers = 2;
  int64_t heads = 4;        ///< must divide embed_dim for transformer/gpt
  int64_t ff_dim = 256;     ///< transformer/gpt feed-forward width; llama: the SwiGLU width
  int64_t kv_heads = 0;     ///< llama: key/value heads (grouped-query attention); 0 = heads
  double norm_eps = 1e-5;   ///< llama: RMSNorm epsilon
  double rope_theta = 1e4;  ///< llama: rotary base
  int64_t tied = 1;         ///< llama: 1 = the classifier is the token embedding
  int64_t max_length = 128; ///< tokens (text): positional table size
  double dropout = 0.1;     ///< [0,1)
  std::vector<int64_t> conv_channels = {16, 32}; ///< cnn
  int64_t image_size = 28;                       ///< cnn: square images
  // LoRA (section "lora:"): rank 0 = off.
  int64_t lora_rank = 0;
  double lora_alpha = 16.0;
  // Training (section "train:").
  std::string optimizer = "adamw"; ///< "adamw" or "sgd"
  double lr = 1e-3;
  double weight_decay = 0.01;
  double momentum = 0.9; ///< sgd
  int64_t batch_size = 32;
  int64_t max_steps = 500; ///< optimizer steps
  int64_t warmup_steps = 50;
  double min_lr_ratio = 0.1; ///< cosine floor as a fraction of lr
  double clip_norm = 1.0;    ///< 0 = no clipping
  int64_t accumulation = 1;  ///< micro-batches per optimizer step
  int64_t eval_every = 100;  ///< steps; 0 = only at the end
  int64_t patience = 0;      ///< evaluations without improvement before stopping; 0 = never early
  uint64_t seed = 1;
  std::string precision = "f32"; ///< "f32" or "bf16"
  std::string freeze;            ///< "" or "backbone" (fine-tuning: train only the head / LoRA)

  friend bool operator==(const model_spec&, const model_spec&) = default;
};

/// Parses a model file's text; `where` names the file in messages. Errors (bad_config) read
/// "WHERE:LINE: what; fix".
caf::expected<model_spec> parse_model_spec(const std::string& yaml_text, const std::string& where);

/// Reads the file at `path` and parses it.
caf::expected<model_spec> load_model_spec(const std::string& path);

/// The spec with "key=value" overrides applied (keys are the member names: "lr", "lora_rank",
/// conv_channels as "16,32"); errors (bad_params) name the key and the model.
caf::expected<model_spec> apply_overrides(model_spec spec,
                                          const std::map<std::string, std::string>& overrides);

/// The spec as YAML that parse_model_spec reads back to an equal spec.
std::string to_yaml(const model_spec& spec);

/// True for the architectures that model text (gpt, llama): they generate, and ignore labels.
bool is_language_model(const std::string& architecture);

/// The architectures a spec may name.
const std::vector<std::string>& known_architectures();

} // namespace llmos::model
