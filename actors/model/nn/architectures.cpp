// The five architectures, each assembled from the shared blocks.
#include <numeric>

#include "llmos/messages/error.hpp"
#include "model/nn/llama.hpp"
#include "model/nn/network.hpp"

namespace llmos::model::nn {

torch::Tensor network::forward_cached(const torch::Tensor&, std::vector<kv_cache>&) {
  throw std::logic_error("forward_cached is only defined for language models");
}

namespace {

/// Shared by the token classifiers: a head on pooled features, padding known.
class token_classifier : public network {
public:
  token_classifier(int64_t pad_id, int64_t features, int64_t classes, double dropout)
      : pad_id_(pad_id), features_(features), dropout_(dropout) {
    head_ = register_module("head", lora_linear(features, classes));
  }
  task_kind task() const override { return task_kind::classify; }
  std::vector<torch::Tensor> head_parameters() override { return head_->parameters(); }
  void replace_head(int64_t classes) override {
    head_ = replace_module("head", lora_linear(features_, classes));
  }

protected:
  torch::Tensor keep(const torch::Tensor& tokens) const { return tokens.ne(pad_id_); }
  torch::Tensor classify(const torch::Tensor& pooled) {
    return head_(torch::dropout(pooled, dropout_, is_training()));
  }
  lora_linear head_{nullptr};
  int64_t pad_id_;
  int64_t features_;
  double dropout_;
};

/// Bag of embeddings: mean of token embeddings, one hidden layer.
class bag_classifier : public token_classifier {
public:
  bag_classifier(const model_spec& s, const data_shape& d)
      : token_classifier(d.pad_id, s.hidden_dim, d.num_classes, s.dropout) {
    emb_ = register_module("emb", torch::nn::Embedding(d.vocab_size, s.embed_dim));
    hidden_ = register_module("hidden", lora_linear(s.embed_dim, s.hidden_dim));
  }
  torch::Tensor forward(const torch::Tensor& tokens) override {
    return classify(torch::relu(hidden_(masked_mean(emb_(tokens), keep(tokens)))));
  }
  std::vector<lora_linear> linears() override { return {hidden_, head_}; }

private:
  torch::nn::Embedding emb_{nullptr};
  lora_linear hidden_{nullptr};
};

/// Bidirectional LSTM over embeddings, mean of its outputs over real tokens.
class bilstm_classifier : public token_classifier {
public:
  bilstm_classifier(const model_spec& s, const data_shape& d)
      : token_classifier(d.pad_id, 2 * s.hidden_dim, d.num_classes, s.dropout) {
    emb_ = register_module("emb", torch::nn::Embedding(d.vocab_size, s.embed_dim));
    lstm_ =
        register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(s.embed_dim, s.hidden_dim)
                                                    .num_layers(s.layers)
                                                    .batch_first(true)
                                                    .bidirectional(true)
                                                    .dropout(s.layers > 1 ? s.dropout : 0.0)));
  }
  torch::Tensor forward(const torch::Tensor& tokens) override {
    auto out = std::get<0>(lstm_(emb_(tokens)));
    return classify(masked_mean(out, keep(tokens)));
  }
  std::vector<lora_linear> linears() override { return {head_}; }

private:
  torch::nn::Embedding emb_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
};

/// Transformer blocks shared by the encoder classifier and the decoder LM.
class block_stack : public torch::nn::Module {
public:
  block_stack(const model_spec& s, int64_t vocab) {
    emb = register_module("emb", token_embedding(vocab, s.max_length, s.embed_dim));
    for (int64_t i = 0; i < s.layers; ++i)
      blocks.push_back(
          register_module("block" + std::to_string(i),
                          transformer_block(s.embed_dim, s.heads, s.ff_dim, s.dropout)));
    norm =
        register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({s.embed_dim})));
  }
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& pad_mask, bool causal,
                        std::vector<kv_cache>* caches = nullptr) {
    const int64_t offset = caches && (*caches)[0].k.defined() ? (*caches)[0].k.size(2) : 0;
    auto h = emb(tokens, offset);
    for (std::size_t i = 0; i < blocks.size(); ++i)
      h = blocks[i](h, pad_mask, causal, caches ? &(*caches)[i] : nullptr);
    return norm(h);
  }
  /// Every block's adaptable linears, then the model's `head`.
  std::vector<lora_linear> linears_and(const lora_linear& head) {
    std::vector<lora_linear> out;
    for (auto& b : blocks) {
      out.push_back(b->attn->qkv);
      out.push_back(b->attn->out);
      out.push_back(b->ff1);
      out.push_back(b->ff2);
    }
    out.push_back(head);
    return out;
  }
  token_embedding emb{nullptr};
  std::vector<transformer_block> blocks;
  torch::nn::LayerNorm norm{nullptr};
};

class transformer_classifier : public token_classifier {
public:
  transformer_classifier(const model_spec& s, const data_shape& d)
      : token_classifier(d.pad_id, s.embed_dim, d.num_classes, s.dropout) {
    stack_ = register_module("stack", std::make_shared<block_stack>(s, d.vocab_size));
  }
  torch::Tensor forward(const torch::Tensor& tokens) override {
    auto k = keep(tokens);
    return classify(masked_mean(stack_->forward(tokens, k.logical_not(), false), k));
  }
  std::vector<lora_linear> linears() override { return stack_->linears_and(head_); }
  int64_t max_length() const override { return stack_->emb->max_length(); }

private:
  std::shared_ptr<block_stack> stack_;
};

/// GPT-style decoder: causal blocks and a next-token head.
class gpt_model : public network {
public:
  gpt_model(const model_spec& s, const data_shape& d) {
    stack_ = register_module("stack", std::make_shared<block_stack>(s, d.vocab_size));
    head_ = register_module("lm_head", lora_linear(s.embed_dim, d.vocab_size, false));
  }
  task_kind task() const override { return task_kind::language_model; }
  torch::Tensor forward(const torch::Tensor& tokens) override {
    // Padding only ever follows the text, so causal masking already keeps it out of every real
    // position's context; the LM loss ignores padded targets.
    return head_(stack_->forward(tokens, {}, true));
  }
  torch::Tensor forward_cached(const torch::Tensor& tokens,
                               std::vector<kv_cache>& caches) override {
    if (caches.size() != stack_->blocks.size())
      caches.assign(stack_->blocks.size(), kv_cache{});
    return head_(stack_->forward(tokens, {}, true, &caches));
  }
  std::vector<torch::Tensor> head_parameters() override { return head_->parameters(); }
  void replace_head(int64_t) override {}
  std::vector<lora_linear> linears() override { return stack_->linears_and(head_); }
  int64_t max_length() const override { return stack_->emb->max_length(); }

private:
  std::shared_ptr<block_stack> stack_;
  lora_linear head_{nullptr};
};

/// Two conv-relu-pool stages and a dense layer, for small grey images.
class cnn_classifier : public network {
public:
  cnn_classifier(const model_spec& s, const data_shape& d) : dropout_(s.dropout) {
    int64_t in = 1;
    int64_t side = d.image_size;
    for (std::size_t i = 0; i < s.conv_channels.size(); ++i) {
      convs_.push_back(register_module(
          "conv" + std::to_string(i),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(in, s.conv_channels[i], 3).padding(1))));
      in = s.conv_channels[i];
      side /= 2;
    }
    features_ = in * side * side;
    hidden_ = register_module("hidden", lora_linear(features_, s.hidden_dim));
    head_ = register_module("head", lora_linear(s.hidden_dim, d.num_classes));
  }
  task_kind task() const override { return task_kind::classify; }
  torch::Tensor forward(const torch::Tensor& images) override {
    auto h = images;
    for (auto& c : convs_)
      h = torch::max_pool2d(torch::relu(c(h)), 2);
    h = torch::relu(hidden_(h.flatten(1)));
    return head_(torch::dropout(h, dropout_, is_training()));
  }
  std::vector<torch::Tensor> head_parameters() override { return head_->parameters(); }
  void replace_head(int64_t classes) override {
    head_ = replace_module("head", lora_linear(hidden_->base->weight.size(0), classes));
  }
  std::vector<lora_linear> linears() override { return {hidden_, head_}; }

private:
  std::vector<torch::nn::Conv2d> convs_;
  lora_linear hidden_{nullptr}, head_{nullptr};
  int64_t features_ = 0;
  double dropout_;
};

caf::error refuse(const model_spec& s, const std::string& what) {
  return make_llmos_error(error_code::bad_config, "model '" + s.name + "': " + what);
}

} // namespace

caf::expected<std::shared_ptr<network>> make_network(const model_spec& s, const data_shape& d) {
  const bool text = s.architecture != "cnn";
  if (text && d.vocab_size <= 0)
    return refuse(s, "architecture '" + s.architecture +
                         "' needs a vocabulary: the data set has no tokenizer and the spec sets "
                         "no vocab_size");
  const bool lm = s.architecture == "gpt" || s.architecture == "llama";
  if (!lm && d.num_classes < 2)
    return refuse(s, "a classifier needs at least 2 classes, the data set has " +
                         std::to_string(d.num_classes) + " labels");
  if (s.architecture == "cnn") {
    int64_t side = d.image_size;
    for (std::size_t i = 0; i < s.conv_channels.size(); ++i)
      side /= 2;
    if (side < 1)
      return refuse(s, "images of side " + std::to_string(d.image_size) + " are too small for " +
                           std::to_string(s.conv_channels.size()) + " pooling stages");
  }
  try {
    std::shared_ptr<network> net;
    if (s.architecture == "bag")
      net = std::make_shared<bag_classifier>(s, d);
    else if (s.architecture == "bilstm")
      net = std::make_shared<bilstm_classifier>(s, d);
    else if (s.architecture == "transformer")
      net = std::make_shared<transformer_classifier>(s, d);
    else if (s.architecture == "gpt")
      net = std::make_shared<gpt_model>(s, d);
    else if (s.architecture == "llama")
      net = make_llama(s, d);
    else if (s.architecture == "cnn")
      net = std::make_shared<cnn_classifier>(s, d);
    else
      return refuse(s, "unknown architecture '" + s.architecture + "'");
    return net;
  } catch (const c10::Error& e) {
    return refuse(s, std::string("building the network failed: ") + e.what_without_backtrace());
  }
}

} // namespace llmos::model::nn
