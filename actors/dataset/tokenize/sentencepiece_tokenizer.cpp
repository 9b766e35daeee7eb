#include "dataset/tokenize/sentencepiece_tokenizer.hpp"

#include <sstream>

#include "llmos/messages/error.hpp"

namespace llmos::dataset {

std::string_view to_string(sentencepiece_model model) {
  return model == sentencepiece_model::bpe ? "bpe" : "unigram";
}

namespace {

// Cuts `text` into pieces of at most `limit` bytes, preferring line breaks, never splitting a
// UTF-8 sequence; empty pieces are dropped.
void append_chunks(std::string_view text, std::size_t limit, std::vector<std::string_view>& out) {
  while (!text.empty()) {
    std::size_t cut = text.size();
    if (cut > limit) {
      cut = text.rfind('\n', limit);
      if (cut == std::string_view::npos || cut == 0) {
        cut = limit;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
          --cut;
        if (cut == 0)
          cut = limit; // not UTF-8 at all: any cut is as good as another
      }
    }
    if (auto piece = text.substr(0, cut); !piece.empty())
      out.push_back(piece);
    text.remove_prefix(cut);
    while (!text.empty() && text.front() == '\n')
      text.remove_prefix(1);
  }
}

std::string option_text(double value) {
  std::ostringstream os;
  os.precision(17);
  os << value;
  return os.str();
}

/// Why `opts` cannot train a model (none when they can).
caf::error check_options(const sentencepiece_options& opts) {
  // Room for 4 specials and 256 byte pieces plus at least a few learned pieces.
  if (opts.vocab_size < 300)
    return make_llmos_error(error_code::bad_config,
                            "sentencepiece: vocab_size " + std::to_string(opts.vocab_size) +
                                " is below 300 (4 specials + 256 byte pieces need room)");
  // SentencePiece itself refuses coverage below 0.98; say so before it does.
  if (!(opts.character_coverage >= 0.98 && opts.character_coverage <= 1.0))
    return make_llmos_error(error_code::bad_config,
                            "sentencepiece: character_coverage must be in [0.98, 1], got " +
                                option_text(opts.character_coverage));
  if (opts.max_sentences == 0 || opts.max_sentence_bytes < 16)
    return make_llmos_error(
        error_code::bad_config,
        "sentencepiece: max_sentences must be > 0 and max_sentence_bytes >= 16");
  return caf::none;
}

/// The texts cut into sentences of at most max_sentence_bytes, at most max_sentences of them.
std::vector<std::string_view> training_sentences(std::span<const std::string> texts,
                                                 const sentencepiece_options& opts) {
  std::vector<std::string_view> chunks;
  for (const auto& text : texts)
    append_chunks(text, opts.max_sentence_bytes, chunks);
  if (chunks.size() <= opts.max_sentences)
    return chunks;
  // SentencePiece's own sampling draws from a global random generator; an evenly strided
  // subset is as representative and gives the same model on every run.
  std::vector<std::string_view> selected;
  selected.reserve(opts.max_sentences);
  for (std::size_t i = 0; i < opts.max_sentences; ++i)
    selected.push_back(chunks[i * chunks.size() / opts.max_sentences]);
  return selected;
}

std::vector<std::pair<std::string, std::string>> trainer_args(const sentencepiece_options& opts) {
  return {
      {"model_type", std::string{to_string(opts.model)}},
      {"vocab_size", std::to_string(opts.vocab_size)},
      {"character_coverage", option_text(opts.character_coverage)},
      {"num_threads", "1"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"max_sentence_length", std::to_string(opts.max_sentence_bytes)},
      // Lossless: no NFKC folding (it would turn "，" into ","), whitespace kept, bytes for
      // characters outside the vocabulary instead of <unk>.
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"byte_fallback", "true"},
      {"hard_vocab_limit", "false"},
      {"pad_id", "3"},
      // SentencePiece logs every training step to stderr at INFO; keep warnings and errors.
      // (The level is process-wide in SentencePiece, so it holds for later encodes too.)
      {"minloglevel", "1"},
  };
}

} // namespace

caf::expected<sentencepiece_tokenizer>
sentencepiece_tokenizer::train(std::span<const std::string> texts,
                               const sentencepiece_options& opts) {
  if (auto err = check_options(opts))
    return err;
  const auto selected = training_sentences(texts, opts);
  if (selected.empty())
    return make_llmos_error(error_code::bad_config,
                            "sentencepiece: no non-empty training texts (is the training split "
                            "empty or made of images only?)");
  std::string missing;
  const auto* api = spm::load_api(&missing);
  if (!api)
    return make_llmos_error(error_code::bad_config, "sentencepiece: " + missing);
  std::string proto;
  if (auto failed = api->train(selected, trainer_args(opts), &proto); !failed.empty())
    return make_llmos_error(error_code::bad_config,
                            "sentencepiece training (" + std::string{to_string(opts.model)} +
                                ", vocab_size " + std::to_string(opts.vocab_size) +
                                ") failed: " + failed);
  return from_model(opts.model, std::move(proto));
}

caf::expected<sentencepiece_tokenizer>
sentencepiece_tokenizer::from_model(sentencepiece_model model, std::string model_proto) {
  std::string failed;
  const auto* api = spm::load_api(&failed);
  if (!api)
    return make_llmos_error(error_code::bad_config, "sentencepiece: " + failed);
  auto* raw = api->load(model_proto, &failed);
  if (!raw)
    return make_llmos_error(error_code::bad_config, "sentencepiece: cannot load model proto (" +
                                                        std::to_string(model_proto.size()) +
                                                        " bytes): " + failed);
  std::shared_ptr<const spm::processor> sp(
      raw, [api](const spm::processor* p) { api->release(const_cast<spm::processor*>(p)); });
  sentencepiece_tokenizer tok;
  tok.api_ = api;
  tok.model_ = model;
  tok.proto_ = std::move(model_proto);
  tok.sp_ = std::move(sp);
  return tok;
}

std::vector<int32_t> sentencepiece_tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  api_->encode(sp_.get(), text, &ids);
  return {ids.begin(), ids.end()};
}

caf::expected<std::string> sentencepiece_tokenizer::decode(std::span<const int32_t> ids) const {
  if (auto err = check_ids("sentencepiece tokenizer", ids, vocab_size()))
    return err;
  std::string out;
  if (auto failed = api_->decode(sp_.get(), std::vector<int>(ids.begin(), ids.end()), &out);
      !failed.empty())
    return make_llmos_error(error_code::bad_params,
                            "sentencepiece tokenizer: decode failed: " + failed);
  return out;
}

int32_t sentencepiece_tokenizer::vocab_size() const {
  return api_->piece_size(sp_.get());
}

std::string sentencepiece_tokenizer::name() const {
  return "sentencepiece-" + std::string{to_string(model_)};
}

special_ids sentencepiece_tokenizer::specials() const {
  int ids[4];
  api_->specials(sp_.get(), ids);
  return {ids[0], ids[1], ids[2], ids[3]};
}

std::string sentencepiece_tokenizer::serialize() const {
  return tokenizer_header(name()) + proto_;
}

} // namespace llmos::dataset
