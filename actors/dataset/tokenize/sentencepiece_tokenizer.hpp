// SentencePiece subword tokenizers (BPE and unigram), trained in memory on the training split's
// texts and stored as the serialized model proto. Training is set up to be lossless and
// reproducible: identity normalization and kept whitespace so decode(encode(t)) == t for valid
// UTF-8, byte fallback instead of <unk> for unseen characters, one thread, no shuffling, and a
// deterministic (evenly strided) subset when the corpus is above the sentence cap.
#pragma once

#include "dataset/tokenize/spm/spm_api.hpp"
#include "dataset/tokenize/tokenizer.hpp"

namespace llmos::dataset {

/// The SentencePiece segmentation algorithm.
enum class sentencepiece_model : uint8_t { bpe, unigram };

/// Training options.
struct sentencepiece_options {
  sentencepiece_model model = sentencepiece_model::bpe;
  /// Target vocabulary (specials and the 256 byte-fallback pieces included); a soft limit, so a
  /// small corpus yields a smaller vocabulary instead of failing.
  int32_t vocab_size = 1000;
  /// Fraction of characters covered by pieces, in [0.98, 1] (the rest fall back to bytes); 1.0
  /// for Chinese or Japanese, which then needs vocab_size above the alphabet size plus 260.
  double character_coverage = 0.9995;
  /// At most this many training sentences: an evenly strided subset keeps training fast.
  std::size_t max_sentences = 20000;
  /// Longer texts are cut at line breaks (SentencePiece silently skips over-long sentences).
  std::size_t max_sentence_bytes = 4096;
};

/// A trained SentencePiece model (BPE or unigram) behind the tokenizer interface.
class sentencepiece_tokenizer final : public tokenizer {
public:
  /// Trains on `texts` (the training split); bad_config for bad options, an empty corpus, or a
  /// refusal by SentencePiece (its message included, e.g. vocab_size below the alphabet).
  static caf::expected<sentencepiece_tokenizer> train(std::span<const std::string> texts,
                                                      const sentencepiece_options& opts = {});

  /// Wraps a serialized model proto; bad_config if SentencePiece cannot load it.
  static caf::expected<sentencepiece_tokenizer> from_model(sentencepiece_model model,
                                                           std::string model_proto);

  /// SentencePiece ids of `text`.
  std::vector<int32_t> encode(std::string_view text) const override;

  /// The text of `ids`; bad_params names an id outside the vocabulary.
  caf::expected<std::string> decode(std::span<const int32_t> ids) const override;

  /// Number of pieces in the model.
  int32_t vocab_size() const override;

  /// "sentencepiece-bpe" or "sentencepiece-unigram".
  std::string name() const override;

  /// unk 0, bos 1, eos 2, pad 3 as trained here (read from the model).
  special_ids specials() const override;

  /// Header line, then the serialized model proto.
  std::string serialize() const override;

  /// The serialized SentencePiece model proto (what `spm_encode --model` would read).
  const std::string& model_proto() const { return proto_; }

  /// The algorithm this model was trained with.
  sentencepiece_model model() const { return model_; }

private:
  sentencepiece_model model_ = sentencepiece_model::bpe;
  std::string proto_;
  // Shared and const: encoding is read-only, so copies of a tokenizer may share one processor.
  // It lives in the SentencePiece module (spm/spm_api.hpp explains why).
  const spm::api* api_ = nullptr;
  std::shared_ptr<const spm::processor> sp_;
};

/// "bpe" or "unigram".
std::string_view to_string(sentencepiece_model model);

} // namespace llmos::dataset
