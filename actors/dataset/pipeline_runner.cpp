#include "dataset/pipeline_runner.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>

#include "dataset/annotate/labeller.hpp"
#include "dataset/augment/augmenter.hpp"
#include "dataset/clean/cleaner.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/readers/reader.hpp"
#include "dataset/split/split.hpp"
#include "dataset/store/atomic_file.hpp"
#include "dataset/tokenize/byte_tokenizer.hpp"
#include "dataset/tokenize/char_tokenizer.hpp"
#include "dataset/tokenize/sentencepiece_tokenizer.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::data {
namespace {

namespace fs = std::filesystem;

caf::error with_context(const caf::error& err, const std::string& where) {
  return make_llmos_error(static_cast<error_code>(err.code()), where + ": " + describe(err));
}

caf::expected<std::unique_ptr<tokenizer>> load_tokenizer(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::string bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  if (!in && !in.eof())
    return make_llmos_error(error_code::io_failed, "from: cannot read " + path);
  if (bytes.empty())
    return make_llmos_error(error_code::io_failed, "from: " + path + " is missing or empty");
  return tokenizer::load(bytes);
}

bool is_image_set(const std::vector<record>& records) {
  return !records.empty() && !records.front().image.empty();
}

caf::expected<std::unique_ptr<tokenizer>> train_tokenizer(const tokenizer_decl& decl,
                                                          const std::vector<std::string>& texts) {
  if (decl.kind == "byte")
    return std::unique_ptr<tokenizer>{std::make_unique<byte_tokenizer>()};
  if (decl.kind == "char") {
    auto t = char_tokenizer::train(texts, char_options{static_cast<int32_t>(decl.vocab_size), 1});
    if (!t)
      return std::move(t.error());
    return std::unique_ptr<tokenizer>{std::make_unique<char_tokenizer>(std::move(*t))};
  }
  sentencepiece_options opts;
  opts.model = decl.kind == "bpe" ? sentencepiece_model::bpe : sentencepiece_model::unigram;
  opts.vocab_size = static_cast<int32_t>(decl.vocab_size);
  opts.character_coverage = decl.character_coverage;
  auto t = sentencepiece_tokenizer::train(texts, opts);
  if (!t)
    return std::move(t.error());
  return std::unique_ptr<tokenizer>{std::make_unique<sentencepiece_tokenizer>(std::move(*t))};
}

} // namespace

std::string current_version_file(const std::string& root, const std::string& dataset) {
  return (fs::path{root} / dataset / "CURRENT").string();
}

caf::expected<pipeline_result> run_pipeline(const pipeline_spec& spec,
                                            const progress_fn& progress) {
  const auto started = std::chrono::steady_clock::now();
  pipeline_result out;
  std::error_code ec;
  fs::create_directories(fs::path{spec.quarantine}.parent_path(), ec);
  const std::string partial = spec.quarantine + ".partial";
  fs::remove(partial, ec);
  auto q = quarantine::open(partial);
  if (!q)
    return std::move(q.error());

  // 1. Read every source.
  std::vector<record> records;
  nlohmann::json sources = nlohmann::json::array();
  for (std::size_t i = 0; i < spec.sources.size(); ++i) {
    const auto& s = spec.sources[i];
    progress("read", i, spec.sources.size(), "source '" + s.name + "' (" + s.kind + ")");
    source_spec rs{s.name, s.kind, s.path, s.options, s.limit};
    auto n = read_source(rs, *q, [&](record&& r) { records.push_back(std::move(r)); });
    if (!n)
      return with_context(n.error(),
                          spec.file + ":" + std::to_string(s.line) + ": source '" + s.name + "'");
    sources.push_back({{"name", s.name}, {"kind", s.kind}, {"path", s.path}, {"records", *n}});
  }
  progress("read", spec.sources.size(), spec.sources.size(),
           std::to_string(records.size()) + " records");

  // 2. Clean.
  std::vector<clean_rule_spec> rules;
  for (const auto& r : spec.clean)
    rules.push_back({r.rule, r.options});
  progress("clean", 0, rules.size(), "");
  auto cleaned = run_rules(records, rules, *q);
  if (!cleaned)
    return with_context(cleaned.error(), spec.file + ": clean");
  nlohmann::json rule_report = nlohmann::json::array();
  for (const auto& r : cleaned->rules) {
    nlohmann::json examples = nlohmann::json::array();
    for (const auto& ex : r.examples)
      examples.push_back({{"id", ex.id}, {"reason", ex.reason}});
    rule_report.push_back({{"rule", r.rule},
                           {"removed", r.removed},
                           {"modified", r.modified},
                           {"examples", examples}});
  }
  progress("clean", rules.size(), rules.size(), std::to_string(records.size()) + " records kept");

  // 3. Annotate.
  nlohmann::json annotation = nullptr;
  if (!spec.labelling_functions.empty()) {
    progress("annotate", 0, records.size(), "");
    auto lab = labeller::from_pipeline(spec.labelling_functions, spec.file);
    if (!lab)
      return std::move(lab.error());
    annotation = to_json(lab->annotate(records, annotate_options{spec.overwrite_labels}));
    progress("annotate", records.size(), records.size(), "");
  }

  // 4. Split, then 5. augment the training split only (augmented records never leak).
  auto parts = assign_splits(records, split_spec{spec.split.train, spec.split.validation,
                                                 spec.split.test, spec.split.seed});
  if (!parts)
    return std::move(parts.error());
  out.records = records.size();
  std::vector<record> train;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto part = (*parts)[i];
    records[i].meta["split"] = std::string{to_string(part)};
    ++(part == split_part::train        ? out.train
       : part == split_part::validation ? out.validation
                                        : out.test);
    if (part == split_part::train)
      train.push_back(records[i]);
  }
  nlohmann::json augmentation = nullptr;
  if (spec.augment.enabled) {
    progress("augment", 0, train.size(), "");
    std::shared_ptr<const thesaurus> th;
    std::shared_ptr<const stop_words> sw;
    if (!is_image_set(records)) {
      auto t = thesaurus::load_default();
      auto s = stop_words::load_default();
      if (!t)
        return with_context(t.error(), spec.file + ": augment");
      if (!s)
        return with_context(s.error(), spec.file + ": augment");
      th = std::make_shared<const thesaurus>(std::move(*t));
      sw = std::make_shared<const stop_words>(std::move(*s));
    }
    auto opts = augment_options_from(spec.augment);
    if (is_image_set(records)) // the text operations have nothing to work on in pixels
      opts.synonym_replacement = opts.random_insertion = opts.random_swap = opts.random_deletion =
          false;
    auto aug = augmenter::make(opts, th, sw);
    if (!aug)
      return with_context(aug.error(), spec.file + ": augment");
    auto extra = aug->augment(train);
    out.augmented = extra.records.size();
    augmentation = {{"sources", extra.sources},
                    {"created", extra.records.size()},
                    {"unchanged", extra.unchanged},
                    {"skipped", extra.skipped}};
    for (auto& r : extra.records) {
      records.push_back(std::move(r));
      parts->push_back(split_part::train);
    }
    progress("augment", train.size(), train.size(), std::to_string(out.augmented) + " created");
  }

  // 6. Tokenizer, trained on the training split's original texts.
  std::unique_ptr<tokenizer> tok;
  if (!is_image_set(records)) {
    progress("tokenize", 0, 1, spec.tokenizer.kind);
    std::vector<std::string> texts;
    for (const auto& r : train)
      texts.push_back(r.text);
    auto t = spec.tokenizer.from.empty() ? train_tokenizer(spec.tokenizer, texts)
                                         : load_tokenizer(spec.tokenizer.from);
    if (!t)
      return with_context(t.error(), spec.file + ": tokenizer");
    tok = std::move(*t);
    progress("tokenize", 1, 1, tok->name() + ", " + std::to_string(tok->vocab_size()) + " ids");
  }

  // 7. Store the version, then make the run's quarantine the current one.
  for (const auto& r : records)
    ++out.labels[r.label];
  for (const auto& [rule, n] : q->counts())
    out.removed[rule] = n;
  out.report = {{"sources", sources},
                {"rules", rule_report},
                {"annotation", annotation},
                {"augmentation", augmentation},
                {"tokenizer", tok ? nlohmann::json{{"name", tok->name()},
                                                   {"vocab_size", tok->vocab_size()},
                                                   {"pad_id", tok->specials().pad},
                                                   {"bos_id", tok->specials().bos},
                                                   {"eos_id", tok->specials().eos},
                                                   {"max_length", spec.tokenizer.max_length}}
                                  : nlohmann::json(nullptr)},
                {"removed", out.removed},
                {"labels", out.labels}};
  progress("store", 0, records.size(), "");
  auto store = dataset_store::open(spec.root, store_options{spec.shard_records});
  if (!store)
    return std::move(store.error());
  version_metadata meta;
  meta.pipeline_spec = spec.text;
  meta.sources = sources;
  meta.rules = rule_report;
  meta.statistics = out.report;
  meta.lineage = {{"pipeline_file", spec.file}};
  auto version = store->write(spec.dataset, records, *parts, meta, tok.get());
  if (!version)
    return std::move(version.error());
  out.version = std::move(*version);
  // Name the version this run produced: re-ingesting content seen before returns an existing
  // version whose manifest is older than others, so "newest manifest" would pick the wrong one.
  if (auto ok =
          write_file_atomically(current_version_file(spec.root, spec.dataset), out.version.version);
      !ok)
    return std::move(ok.error());
  fs::rename(partial, spec.quarantine, ec);
  if (ec)
    return make_llmos_error(error_code::io_failed, "cannot move the quarantine to '" +
                                                       spec.quarantine + "': " + ec.message());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out.report["seconds"] = secs;
  progress("store", records.size(), records.size(), "version " + out.version.version);
  return out;
}

} // namespace llmos::data
