// libllmos_spm.so: the only code that includes SentencePiece (see spm_api.hpp for why).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unordered_map>

#include "spm_api.hpp"

namespace llmos::dataset::spm {

struct processor {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {

// Feeds the selected training sentences to SentencePiece without writing a temporary file.
class view_iterator final : public sentencepiece::SentenceIterator {
public:
  explicit view_iterator(const std::vector<std::string_view>& views) : views_(views) { load(); }
  bool done() const override { return pos_ >= views_.size(); }
  void Next() override {
    ++pos_;
    load();
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return {}; }

private:
  void load() {
    if (pos_ < views_.size())
      current_.assign(views_[pos_]);
  }
  const std::vector<std::string_view>& views_;
  std::size_t pos_ = 0;
  std::string current_;
};

std::string train(const std::vector<std::string_view>& sentences,
                  const std::vector<std::pair<std::string, std::string>>& args,
                  std::string* proto) {
  const std::unordered_map<std::string, std::string> map(args.begin(), args.end());
  view_iterator it{sentences};
  auto status = sentencepiece::SentencePieceTrainer::Train(map, &it, proto);
  return status.ok() ? std::string{} : status.ToString();
}

processor* load(const std::string& proto, std::string* error) {
  auto p = new processor;
  if (auto status = p->sp.LoadFromSerializedProto(proto); !status.ok()) {
    *error = status.ToString();
    delete p;
    return nullptr;
  }
  return p;
}

void release(processor* p) {
  delete p;
}

void encode(const processor* p, std::string_view text, std::vector<int>* ids) {
  // A loaded model only fails on internal errors; the ids produced so far are still returned.
  p->sp.Encode(text, ids).IgnoreError();
}

std::string decode(const processor* p, const std::vector<int>& ids, std::string* out) {
  auto status = p->sp.Decode(ids, out);
  return status.ok() ? std::string{} : status.ToString();
}

int piece_size(const processor* p) {
  return p->sp.GetPieceSize();
}

void specials(const processor* p, int out[4]) {
  out[0] = p->sp.unk_id();
  out[1] = p->sp.bos_id();
  out[2] = p->sp.eos_id();
  out[3] = p->sp.pad_id();
}

const api table{train, load, release, encode, decode, piece_size, specials};

} // namespace

} // namespace llmos::dataset::spm

extern "C" __attribute__((visibility("default"))) const llmos::dataset::spm::api* llmos_spm_api() {
  return &llmos::dataset::spm::table;
}
