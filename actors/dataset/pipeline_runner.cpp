#include "dataset/pipeline_runner.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>

#include "dataset/annotate/human_labels.hpp"
#include "dataset/annotate/labeller.hpp"
#include "dataset/augment/augmenter.hpp"
#include "dataset/clean/cleaner.hpp"
#include "dataset/incremental_ingest.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/readers/reader.hpp"
#include "dataset/split/split.hpp"
#include "dataset/store/atomic_file.hpp"
#include "dataset/tokenize/byte_tokenizer.hpp"
#include "dataset/tokenize/char_tokenizer.hpp"
#include "dataset/tokenize/sentencepiece_tokenizer.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
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

/// One run of a pipeline, step by step; each step fills its part of the result and report.
class pipeline_run {
public:
  pipeline_run(const pipeline_spec& spec, const progress_fn& progress, quarantine& q,
               std::optional<stored_version> stored, const std::string& full_run_because)
      : spec_(spec), progress_(progress), q_(q), stored_(std::move(stored)) {
    if (stored_)
      incremental_ = {{"extends", stored_->info.version}};
    else if (spec_.incremental)
      incremental_ = {{"full_run_because", full_run_because}};
  }

  /// 1. Read every source.
  caf::error read() {
    const auto n = spec_.sources.size();
    for (std::size_t i = 0; i < n; ++i) {
      const auto& s = spec_.sources[i];
      progress_("read", i, n, "source '" + s.name + "' (" + s.kind + ")");
      source_spec rs{s.name, s.kind, s.path, s.options, s.limit};
      source_cursor cursor;
      const auto column = s.options.find("cursor_column");
      if (column != s.options.end()) {
        if (stored_ && stored_->cursors.count(s.name) > 0)
          cursor.after = stored_->cursors.at(s.name);
        cursor.last = cursor.after;
        rs.cursor = &cursor;
      }
      auto got = read_source(rs, q_, [&](record&& r) { records_.push_back(std::move(r)); });
      if (!got)
        return with_context(got.error(), spec_.file + ":" + std::to_string(s.line) + ": source '" +
                                             s.name + "'");
      nlohmann::json entry{{"name", s.name}, {"kind", s.kind}, {"path", s.path}, {"records", *got}};
      if (rs.cursor != nullptr) // where the next incremental read starts
        entry["cursor"] = {
            {"column", column->second}, {"after", cursor.after}, {"last", cursor.last}};
      sources_.push_back(std::move(entry));
    }
    if (stored_) {
      incremental_["already_stored"] = drop_stored(records_, *stored_);
      incremental_["new_records"] = records_.size();
    }
    progress_("read", n, n, std::to_string(records_.size()) + " records");
    return {};
  }

  /// 2. Clean.
  caf::error clean() {
    std::vector<clean_rule_spec> rules;
    for (const auto& r : spec_.clean)
      rules.push_back({r.rule, r.options});
    progress_("clean", 0, rules.size(), "");
    auto cleaned = run_rules(records_, rules, q_);
    if (!cleaned)
      return with_context(cleaned.error(), spec_.file + ": clean");
    if (stored_) { // the new records against those stored before
      auto across = dedupe_against_stored(
          records_, stored_->keys,
          [this](const std::vector<uint32_t>& at) { return stored_texts(*stored_, at); }, rules,
          q_);
      if (!across)
        return with_context(across.error(), spec_.file + ": clean");
      for (auto& r : *across) {
        r.rule += " (against stored records)";
        cleaned->rules.push_back(std::move(r));
      }
    }
    for (const auto& r : cleaned->rules) {
      nlohmann::json examples = nlohmann::json::array();
      for (const auto& ex : r.examples)
        examples.push_back({{"id", ex.id}, {"reason", ex.reason}});
      rules_.push_back({{"rule", r.rule},
                        {"removed", r.removed},
                        {"modified", r.modified},
                        {"examples", examples}});
    }
    if (spec_.incremental) { // what the next incremental run checks its new records against
      auto near = near_options_of(rules);
      if (!near)
        return with_context(near.error(), spec_.file + ": clean");
      keys_ = compute_stored_keys(records_, *near);
    }
    progress_("clean", rules.size(), rules.size(),
              std::to_string(records_.size()) + " records kept");
    return {};
  }

  /// 3. Annotate, when the pipeline has labelling functions; then people's labels, which
  /// outrank every other.
  caf::error annotate() {
    if (!spec_.labelling_functions.empty()) {
      progress_("annotate", 0, records_.size(), "");
      auto lab = labeller::from_pipeline(spec_.labelling_functions, spec_.file);
      if (!lab)
        return std::move(lab.error());
      annotation_ = to_json(lab->annotate(records_, annotate_options{spec_.overwrite_labels}));
      progress_("annotate", records_.size(), records_.size(), "");
    }
    auto people = read_human_labels(human_labels_file(spec_.root, spec_.dataset));
    if (!people)
      return std::move(people.error());
    if (!people->empty()) {
      const auto n = apply_human_labels(records_, *people);
      human_ = {{"labels", people->size()},
                {"applied", n.applied},
                {"unchanged", n.unchanged},
                {"unknown", n.unknown}};
    }
    return {};
  }

  /// 4. Split; the training split's records are kept apart for augmenting and the tokenizer.
  caf::error split() {
    if (records_.empty())
      return {};
    progress_("split", 0, records_.size(), "");
    auto parts = assign_splits(records_, split_spec{spec_.split.train, spec_.split.validation,
                                                    spec_.split.test, spec_.split.seed});
    if (!parts)
      return std::move(parts.error());
    parts_ = std::move(*parts);
    out_.records = records_.size();
    for (std::size_t i = 0; i < records_.size(); ++i) {
      const auto part = parts_[i];
      records_[i].meta["split"] = std::string{to_string(part)};
      ++(part == split_part::train        ? out_.train
         : part == split_part::validation ? out_.validation
                                          : out_.test);
      if (part == split_part::train)
        train_.push_back(records_[i]);
    }
    return {};
  }

  /// 5. Augment the training split only (augmented records never leak into the others).
  caf::error augment() {
    if (!spec_.augment.enabled)
      return {};
    progress_("augment", 0, train_.size(), "");
    auto aug = make_augmenter();
    if (!aug)
      return with_context(aug.error(), spec_.file + ": augment");
    auto extra = aug->augment(train_);
    out_.augmented = extra.records.size();
    augmentation_ = {{"sources", extra.sources},
                     {"created", extra.records.size()},
                     {"unchanged", extra.unchanged},
                     {"skipped", extra.skipped}};
    for (auto& r : extra.records) {
      records_.push_back(std::move(r));
      parts_.push_back(split_part::train);
    }
    progress_("augment", train_.size(), train_.size(), std::to_string(out_.augmented) + " created");
    return {};
  }

  /// 6. The tokenizer, trained on the training split's original texts (or loaded).
  caf::error tokenize() {
    if (is_image_set(records_))
      return {};
    if (stored_) { // ids must mean what they meant in the stored shards
      tok_ = std::move(stored_->tok);
      return {};
    }
    progress_("tokenize", 0, 1, spec_.tokenizer.kind);
    std::vector<std::string> texts;
    for (const auto& r : train_)
      texts.push_back(r.text);
    auto t = spec_.tokenizer.from.empty() ? train_tokenizer(spec_.tokenizer, texts)
                                          : load_tokenizer(spec_.tokenizer.from);
    if (!t)
      return with_context(t.error(), spec_.file + ": tokenizer");
    tok_ = std::move(*t);
    progress_("tokenize", 1, 1, tok_->name() + ", " + std::to_string(tok_->vocab_size()) + " ids");
    return {};
  }

  /// 7. Store the version and name it the data set's current one.
  caf::error store() {
    finish_report();
    progress_("store", 0, records_.size(), "");
    auto store = dataset_store::open(spec_.root, store_options{spec_.shard_records});
    if (!store)
      return std::move(store.error());
    version_metadata meta;
    meta.pipeline_spec = spec_.text;
    meta.sources = sources_;
    meta.rules = rules_;
    meta.statistics = out_.report;
    meta.lineage = {{"pipeline_file", spec_.file}};
    if (stored_ && records_.empty()) { // nothing new: the current version stays
      out_.version = stored_->info;
      return {};
    }
    if (stored_)
      meta.lineage["incremental"] = true;
    if (spec_.incremental)
      meta.side_files[keys_file_name(stored_ ? stored_->key_files : 0)] = keys_file();
    auto version = stored_ ? store->extend(stored_->info, records_, parts_, meta, tok_.get())
                           : store->write(spec_.dataset, records_, parts_, meta, tok_.get());
    if (!version)
      return std::move(version.error());
    out_.version = std::move(*version);
    // Name the version this run produced: re-ingesting content seen before returns an existing
    // version whose manifest is older than others, so "newest manifest" would pick the wrong
    // one.
    if (auto ok = write_file_atomically(current_version_file(spec_.root, spec_.dataset),
                                        out_.version.version);
        !ok)
      return std::move(ok.error());
    return {};
  }

  pipeline_result& result() { return out_; }
  std::size_t records() const { return records_.size(); }

private:
  caf::expected<augmenter> make_augmenter() {
    std::shared_ptr<const thesaurus> th;
    std::shared_ptr<const stop_words> sw;
    const bool images = is_image_set(records_);
    if (!images) {
      auto t = thesaurus::load_default();
      if (!t)
        return std::move(t.error());
      auto s = stop_words::load_default();
      if (!s)
        return std::move(s.error());
      th = std::make_shared<const thesaurus>(std::move(*t));
      sw = std::make_shared<const stop_words>(std::move(*s));
    }
    auto opts = augment_options_from(spec_.augment);
    if (images) // the text operations have nothing to work on in pixels
      opts.synonym_replacement = opts.random_insertion = opts.random_swap = opts.random_deletion =
          false;
    return augmenter::make(opts, th, sw);
  }

  /// This run's keys file: its records' keys, after the stored ones when the version it extends
  /// had no keys file (they were hashed from its shards; the file now covers them all).
  std::string keys_file() const {
    if (!stored_ || stored_->key_files > 0)
      return keys_.encode();
    auto all = stored_->keys;
    all.append(keys_);
    return all.encode();
  }

  void finish_report() {
    for (const auto& r : records_)
      ++out_.labels[r.label];
    for (const auto& [rule, n] : q_.counts())
      out_.removed[rule] = n;
    out_.report = {{"sources", sources_},           {"rules", rules_},
                   {"annotation", annotation_},     {"human_labels", human_},
                   {"augmentation", augmentation_}, {"tokenizer", tokenizer_report()},
                   {"removed", out_.removed},       {"labels", out_.labels},
                   {"incremental", incremental_}};
  }

  nlohmann::json tokenizer_report() const {
    if (!tok_)
      return nullptr;
    return {{"name", tok_->name()},           {"vocab_size", tok_->vocab_size()},
            {"pad_id", tok_->specials().pad}, {"bos_id", tok_->specials().bos},
            {"eos_id", tok_->specials().eos}, {"max_length", spec_.tokenizer.max_length}};
  }

  const pipeline_spec& spec_;
  const progress_fn& progress_;
  quarantine& q_;
  pipeline_result out_;
  std::vector<record> records_;
  std::vector<split_part> parts_;
  std::vector<record> train_;
  std::unique_ptr<tokenizer> tok_;
  nlohmann::json sources_ = nlohmann::json::array();
  nlohmann::json rules_ = nlohmann::json::array();
  nlohmann::json annotation_ = nullptr;
  nlohmann::json human_ = nullptr; ///< what people's labels did (null: none given)
  nlohmann::json augmentation_ = nullptr;
  std::optional<stored_version> stored_; ///< the version an incremental run extends
  stored_keys keys_;                     ///< of this run's records (incremental pipelines)
  nlohmann::json incremental_ = nullptr; ///< what the incremental run did (null: not one)
};

} // namespace

std::string current_version_file(const std::string& root, const std::string& dataset) {
  return (fs::path{root} / dataset / "CURRENT").string();
}

caf::expected<pipeline_result> run_pipeline(const pipeline_spec& spec,
                                            const progress_fn& progress) {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(fs::path{spec.quarantine}.parent_path(), ec);
  // The run's quarantine becomes the current one only once its version is stored.
  const std::string partial = spec.quarantine + ".partial";
  fs::remove(partial, ec);
  std::string full_run_because;
  if (spec.incremental)
    progress("stored", 0, 1, "the version to extend");
  std::vector<clean_rule_spec> rules;
  for (const auto& r : spec.clean)
    rules.push_back({r.rule, r.options});
  auto near = near_options_of(rules);
  if (!near)
    return std::move(near.error());
  auto stored = version_to_extend(spec, *near, full_run_because);
  if (!stored)
    return std::move(stored.error());
  if (*stored) // an extension keeps what earlier runs refused
    fs::copy_file(spec.quarantine, partial, ec);
  auto q = quarantine::open(partial);
  if (!q)
    return std::move(q.error());
  pipeline_run run{spec, progress, *q, std::move(*stored), full_run_because};
  for (auto step :
       {&pipeline_run::read, &pipeline_run::clean, &pipeline_run::annotate, &pipeline_run::split,
        &pipeline_run::augment, &pipeline_run::tokenize, &pipeline_run::store})
    if (auto err = (run.*step)())
      return err;
  fs::rename(partial, spec.quarantine, ec);
  if (ec)
    return make_llmos_error(error_code::io_failed, "cannot move the quarantine to '" +
                                                       spec.quarantine + "': " + ec.message());
  auto& out = run.result();
  out.report["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  progress("store", run.records(), run.records(), "version " + out.version.version);
  return std::move(out);
}

} // namespace llmos::dataset
