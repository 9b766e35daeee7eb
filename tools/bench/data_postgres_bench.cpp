#include "data_postgres_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "dataset/data_dir.hpp"
#include "dataset/pipeline_runner.hpp"
#include "dataset/pipeline_spec.hpp"
#include "dataset/readers/reader.hpp"
#include "llmos/messages/error.hpp"
#include "local_postgres.hpp"

namespace llmos::bench {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

struct gloss {
  std::string wnid, text, label;
};

/// WordNet's glosses: the synset ("<offset><type>"), the text after " | ", the synset type
/// (n, v, a, s, r) as the label; at most `max`.
std::vector<gloss> read_glosses(std::size_t max) {
  std::vector<gloss> out;
  const auto dir = dataset::data_path("wordnet-base/usr/share/wordnet");
  if (dir.empty())
    return out;
  for (const char* part : {"data.noun", "data.verb", "data.adj", "data.adv"}) {
    std::ifstream in{fs::path{dir} / part};
    std::string line;
    while (out.size() < max && std::getline(in, line)) {
      const auto bar = line.find(" | ");
      if (line.rfind("  ", 0) == 0 || bar == std::string::npos)
        continue; // the licence header
      const auto first = line.find(' ');
      const auto type = line.substr(first + 4, 1);
      auto text = line.substr(bar + 3);
      while (!text.empty() && text.back() == ' ')
        text.pop_back();
      std::string escaped; // COPY's text format
      for (char c : text)
        escaped += c == '\\' ? std::string{"\\\\"} : c == '\t' ? std::string{" "} : std::string{c};
      out.push_back({line.substr(0, first) + type, std::move(escaped), type});
    }
  }
  return out;
}

/// Rows [from, to) as a COPY file with ids from + 1.
void write_copy_file(const std::string& path, const std::vector<gloss>& rows, std::size_t from,
                     std::size_t to) {
  std::ofstream out{path};
  for (std::size_t i = from; i < to; ++i)
    out << i + 1 << '\t' << rows[i].wnid << '\t' << rows[i].text << '\t' << rows[i].label << '\n';
}

template <class Fn> double best_seconds(std::size_t repeats, Fn&& fn) {
  double best = 1e30;
  for (std::size_t r = 0; r < std::max<std::size_t>(repeats, 1); ++r) {
    const auto start = clock_type::now();
    if (!fn())
      return -1;
    best = std::min(best, std::chrono::duration<double>(clock_type::now() - start).count());
  }
  return best;
}

class postgres_bench {
public:
  postgres_bench(const postgres_bench_options& opts, testing::local_postgres& pg, std::string dir)
      : opts_(opts), pg_(pg), dir_(std::move(dir)) {
    std::ifstream in{pg_.password_file()};
    std::getline(in, password_);
  }

  /// psql with the server's address and password.
  bool psql(const std::string& command) const {
    const auto line = "PGPASSWORD=" + password_ + " " + pg_.bin_dir() +
                      "/psql -q -h 127.0.0.1 -p " + std::to_string(pg_.port()) +
                      " -U llmos -d postgres -c \"" + command + "\" >/dev/null";
    return std::system(line.c_str()) == 0;
  }

  dataset::pipeline_spec pipeline(const std::string& root, bool incremental) const {
    const auto text =
        "dataset: glosses\nroot: " + root + "\nincremental: " + (incremental ? "true" : "false") +
        "\nsources:\n  - name: wordnet\n    kind: postgres\n    path: \"" + pg_.conninfo() +
        "\"\n    options: {table: glosses, id_column: id, " +
        "label_column: label, cursor_column: id, password_file: " + pg_.password_file() +
        "}\nclean:\n  - rule: normalise\n  - rule: exact_dedupe\n"
        "  - rule: near_dedupe\n"
        "split: {train: 0.8, validation: 0.1, test: 0.1, seed: 1}\n"
        "tokenizer: {kind: byte}\nshard_records: 10000\n";
    auto spec = dataset::parse_pipeline(text, dir_ + "/glosses.yaml");
    if (!spec)
      std::cerr << "llmos-bench data: " << describe(spec.error()) << "\n";
    return spec ? *spec : dataset::pipeline_spec{};
  }

  /// Seconds per pipeline stage of the last ingest (from the progress callback).
  using stage_seconds = std::vector<std::pair<std::string, double>>;

  static bool ingest(const dataset::pipeline_spec& spec, dataset::pipeline_result* out = nullptr,
                     stage_seconds* stages = nullptr) {
    auto last = clock_type::now();
    std::string stage;
    auto r = dataset::run_pipeline(
        spec, [&](const std::string& now, uint64_t, uint64_t, const std::string&) {
          if (now == stage || stages == nullptr)
            return;
          const auto t = clock_type::now();
          if (!stage.empty())
            stages->emplace_back(stage, std::chrono::duration<double>(t - last).count());
          stage = now;
          last = t;
        });
    if (stages != nullptr && !stage.empty())
      stages->emplace_back(stage, std::chrono::duration<double>(clock_type::now() - last).count());
    if (!r) {
      std::cerr << "llmos-bench data: ingest: " << describe(r.error()) << "\n";
      return false;
    }
    if (out != nullptr)
      *out = std::move(*r);
    return true;
  }

  const postgres_bench_options& opts_;
  testing::local_postgres& pg_;
  std::string dir_, password_;
};

} // namespace

namespace {

/// What the run measured.
struct postgres_figures {
  uint64_t read_rows = 0;
  double read_s = -1, copy_s = -1, inc_s = -1, full_s = -1;
  postgres_bench::stage_seconds inc_stages, full_stages;
  uint64_t inc_records = 0, full_records = 0;
};

/// Reading: the source against psql's \copy of the same rows to a file.
void measure_reads(postgres_bench& b, testing::local_postgres& pg, postgres_figures& f) {
  const dataset::source_spec source{"wordnet",
                                    "postgres",
                                    pg.conninfo(),
                                    {{"table", "glosses"},
                                     {"id_column", "id"},
                                     {"label_column", "label"},
                                     {"password_file", pg.password_file()}}};
  f.read_s = best_seconds(b.opts_.repeats, [&] {
    dataset::quarantine q;
    auto n = dataset::read_source(source, q, [](dataset::record&&) {});
    f.read_rows = n ? *n : 0;
    return static_cast<bool>(n);
  });
  f.copy_s = best_seconds(b.opts_.repeats, [&] {
    return b.psql("\\copy (SELECT * FROM glosses) TO '" + b.dir_ + "/out.tsv'");
  });
}

/// The first ingest, then 1% new rows; the incremental ingest is timed from the same stored
/// version each time (its new version removed in between), the full one into an empty store.
bool measure_ingests(postgres_bench& b, postgres_figures& f) {
  const auto inc_spec = b.pipeline(b.dir_ + "/incremental", true);
  dataset::pipeline_result base;
  if (!postgres_bench::ingest(inc_spec, &base) ||
      !b.psql("\\copy glosses FROM '" + b.dir_ + "/new.tsv'"))
    return false;
  const auto current = dataset::current_version_file(inc_spec.root, inc_spec.dataset);
  dataset::pipeline_result extended;
  f.inc_s = best_seconds(b.opts_.repeats, [&] {
    std::ofstream{current} << base.version.version;
    if (!extended.version.path.empty() && extended.version.path != base.version.path)
      fs::remove_all(extended.version.path);
    f.inc_stages.clear();
    return postgres_bench::ingest(inc_spec, &extended, &f.inc_stages);
  });
  const auto full_spec = b.pipeline(b.dir_ + "/full", false);
  dataset::pipeline_result full;
  f.full_s = best_seconds(b.opts_.repeats, [&] {
    fs::remove_all(full_spec.root);
    f.full_stages.clear();
    return postgres_bench::ingest(full_spec, &full, &f.full_stages);
  });
  f.inc_records = extended.version.manifest.value("records", uint64_t{0});
  f.full_records = full.version.manifest.value("records", uint64_t{0});
  return f.inc_s >= 0 && f.full_s >= 0;
}

void print_figures(const postgres_bench_options& opts, std::size_t fresh,
                   const postgres_figures& f) {
  auto row = [](const std::string& name, double value) {
    std::cout << std::left << std::setw(44) << name << std::right << std::setw(11) << value << "\n";
  };
  std::cout << "\npostgres: WordNet glosses, " << opts.rows << " rows + " << fresh
            << " new, PostgreSQL on loopback, best of " << opts.repeats << "\n"
            << std::left << std::setw(44) << "read" << std::right << std::setw(12) << "rows/s\n"
            << std::fixed << std::setprecision(0);
  row("ours (postgres source, records)", static_cast<double>(f.read_rows) / f.read_s);
  row("psql \\copy to a file (raw floor)", static_cast<double>(opts.rows) / f.copy_s);
  std::cout << std::setprecision(3) << std::left << std::setw(44) << "ingest" << std::right
            << std::setw(12) << "seconds\n";
  row("incremental (1% new rows)", f.inc_s);
  row("full re-ingest", f.full_s);
  row("incremental / full", f.inc_s / f.full_s);
  std::cout << "  records: " << f.inc_records << " incremental, " << f.full_records << " full\n";
  for (const auto& [name, stages] :
       {std::pair{"incremental", &f.inc_stages}, std::pair{"full", &f.full_stages}}) {
    std::cout << "  " << name << " by stage (last run):";
    for (const auto& [stage, seconds] : *stages)
      std::cout << " " << stage << " " << seconds;
    std::cout << "\n";
  }
}

} // namespace

bool run_postgres_bench(const postgres_bench_options& opts, result_sheet& sheet) {
  const auto fresh = static_cast<std::size_t>(static_cast<double>(opts.rows) * opts.new_fraction);
  const auto rows = read_glosses(opts.rows + fresh);
  if (rows.size() < opts.rows + fresh) {
    std::cout << "postgres: skipped (WordNet's glosses are not under " << dataset::data_dir()
              << ": run tools/setup/setup.sh)\n";
    return false;
  }
  std::string why;
  auto pg = testing::local_postgres::start(why);
  if (!pg) {
    std::cout << "postgres: skipped (" << why << ")\n";
    return false;
  }
  const auto dir =
      (fs::temp_directory_path() / ("llmos-bench-pg-" + std::to_string(pg->port()))).string();
  fs::create_directories(dir);
  postgres_bench b{opts, *pg, dir};
  write_copy_file(dir + "/base.tsv", rows, 0, opts.rows);
  write_copy_file(dir + "/new.tsv", rows, opts.rows, opts.rows + fresh);
  if (!pg->exec("CREATE TABLE glosses (id bigint PRIMARY KEY, wnid text, text text, label text)",
                why) ||
      !b.psql("\\copy glosses FROM '" + dir + "/base.tsv'")) {
    std::cout << "postgres: skipped (loading the table failed: " << why << ")\n";
    return false;
  }
  postgres_figures f;
  measure_reads(b, *pg, f);
  const bool ingested = measure_ingests(b, f);
  fs::remove_all(dir);
  if (f.read_s < 0 || f.copy_s < 0 || !ingested)
    return false;
  print_figures(opts, fresh, f);
  sheet.set("postgres_rows_per_s", static_cast<double>(f.read_rows) / f.read_s);
  sheet.set("postgres_copy_rows_per_s", static_cast<double>(opts.rows) / f.copy_s);
  sheet.set("incremental_seconds", f.inc_s);
  sheet.set("full_ingest_seconds", f.full_s);
  sheet.set("incremental_vs_full_ratio", f.inc_s / f.full_s);
  sheet.set("incremental_total_rows", static_cast<double>(opts.rows + fresh));
  return true;
}

} // namespace llmos::bench
