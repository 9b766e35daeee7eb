#include "dataset/pipeline_spec.hpp"

#include "dataset/readers/reader.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "dataset/clean/cleaner.hpp"
#include "dataset/data_dir.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/state_dir.hpp"
#include "llmos/runtime/suggest.hpp"
#include "llmos/runtime/yaml_fields.hpp"

namespace llmos::dataset {

using namespace yaml_fields;
namespace fs = std::filesystem;

namespace {

// Option values that are paths: resolved like the source path.
const std::vector<std::string> path_options{"images", "labels", "password_file"};

double read_double(const entry& e, double lo, double hi) {
  const auto text = read_string(e);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || v < lo || v > hi)
    refuse(e.line, "'" + e.key + "' must be a number between " + std::to_string(lo) + " and " +
                       std::to_string(hi) + ", got '" + text + "'");
  return v;
}

/// A map of scalar options (values as written).
std::map<std::string, std::string> read_options(const entry& e) {
  if (!e.value.IsMap())
    refuse(e.line, "'" + e.key + "' must be a map of key: value, but it is " + kind_of(e.value));
  std::map<std::string, std::string> out;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    if (!it->second.IsScalar())
      refuse(line_of(it->first), "option '" + it->first.Scalar() +
                                     "' must be a single value, but it is " + kind_of(it->second));
    out[it->first.Scalar()] = it->second.Scalar();
  }
  return out;
}

const YAML::Node& list_of(const entry& e) {
  if (!e.value.IsSequence())
    refuse(e.line,
           "'" + e.key + "' must be a list (items start with '- '), but it is " + kind_of(e.value));
  return e.value;
}

class pipeline_parser {
public:
  explicit pipeline_parser(std::string file) : file_(std::move(file)) {
    auto dir = fs::path{file_}.parent_path();
    base_ = dir.empty() ? fs::current_path() : fs::absolute(dir);
  }

  pipeline_spec parse(const YAML::Node& root) {
    if (!root.IsMap())
      refuse(line_of(root), "a pipeline file is a map with at least 'dataset' and 'sources'");
    auto top = read_map(root,
                        {"dataset", "root", "quarantine", "sources", "clean", "annotate", "split",
                         "augment", "tokenizer", "shard_records", "incremental", "schedule"},
                        "the pipeline file");
    pipeline_spec spec;
    spec.file = file_;
    const auto* name = get(top, "dataset");
    if (name == nullptr)
      refuse(1, "missing 'dataset: NAME' (the data set's name)");
    spec.dataset = read_name(*name);
    const auto state = fs::path{state_dir()};
    spec.root =
        get(top, "root") ? resolve(read_string(*get(top, "root"))) : (state / "datasets").string();
    spec.quarantine = get(top, "quarantine")
                          ? resolve(read_string(*get(top, "quarantine")))
                          : (fs::path{spec.root} / (spec.dataset + ".quarantine.jsonl")).string();
    const auto* sources = get(top, "sources");
    if (sources == nullptr)
      refuse(1, "missing 'sources:' (a list of sources, each with name, kind and path)");
    for (const auto& item : list_of(*sources))
      spec.sources.push_back(read_source(item));
    if (spec.sources.empty())
      refuse(sources->line, "'sources' is empty; declare at least one source");
    if (const auto* clean = get(top, "clean"))
      for (const auto& item : list_of(*clean))
        spec.clean.push_back(read_rule(item));
    if (const auto* annotate = get(top, "annotate"))
      read_annotate(*annotate, spec);
    if (const auto* split = get(top, "split"))
      spec.split = read_split(*split);
    if (const auto* augment = get(top, "augment"))
      spec.augment = read_augment(*augment);
    if (const auto* tok = get(top, "tokenizer"))
      spec.tokenizer = read_tokenizer(*tok);
    if (const auto* schedule = get(top, "schedule"))
      spec.schedule = read_schedule(*schedule);
    if (const auto* incremental = get(top, "incremental"))
      spec.incremental = read_bool(*incremental);
    if (const auto* shard = get(top, "shard_records"))
      spec.shard_records =
          static_cast<uint32_t>(read_unsigned(*shard, 1, 10'000'000, "records per shard file"));
    return spec;
  }

private:
  std::string resolve(std::string path) const {
    const std::string var = "${DATA}";
    if (auto pos = path.find(var); pos != std::string::npos)
      path.replace(pos, var.size(), data_dir());
    fs::path p{path};
    return (p.is_absolute() ? p : base_ / p).lexically_normal().string();
  }

  source_decl read_source(const YAML::Node& item) {
    if (!item.IsMap())
      refuse(line_of(item), "each source is a map with name, kind and path");
    auto m = read_map(item, {"name", "kind", "path", "options", "limit"}, "a source");
    source_decl s;
    s.line = line_of(item);
    if (!get(m, "name") || !get(m, "kind"))
      refuse(s.line, "a source needs 'name' and 'kind' (" + join_words(known_source_kinds()) + ")");
    s.name = read_name(*get(m, "name"));
    if (!names_.insert(s.name).second)
      refuse(get(m, "name")->line, "two sources are called '" + s.name + "'; rename one");
    s.kind = read_choice(*get(m, "kind"), known_source_kinds());
    if (const auto* options = get(m, "options"))
      s.options = read_options(*options);
    for (const auto& key : path_options)
      if (auto i = s.options.find(key); i != s.options.end())
        i->second = resolve(i->second);
    // A URL (http) or a connection string (postgres) is not a path to resolve.
    if (const auto* path = get(m, "path"))
      s.path = s.kind == "http" || s.kind == "postgres" ? read_string(*path)
                                                        : resolve(read_string(*path));
    else if (s.kind != "idx")
      refuse(s.line, "source '" + s.name + "' needs 'path'");
    if (s.kind == "idx" && (!s.options.count("images") || !s.options.count("labels")))
      refuse(s.line, "idx source '" + s.name + "' needs options 'images' and 'labels' (.gz files)");
    if (const auto* limit = get(m, "limit"))
      s.limit = read_unsigned(*limit, 0, UINT64_MAX, "0 reads everything");
    return s;
  }

  rule_decl read_rule(const YAML::Node& item) {
    if (!item.IsMap())
      refuse(line_of(item), "each cleaning step is a map: '- rule: NAME' with optional options");
    auto m = read_map(item, {"rule", "options"}, "a cleaning step");
    rule_decl r;
    r.line = line_of(item);
    if (!get(m, "rule"))
      refuse(r.line, "a cleaning step needs 'rule' (" + join_words(known_clean_rules()) + ")");
    r.rule = read_choice(*get(m, "rule"), known_clean_rules());
    if (const auto* options = get(m, "options"))
      r.options = read_options(*options);
    // The cleaner owns the options of each rule; ask it now so the refusal carries this line.
    if (auto ok = validate_rules({clean_rule_spec{r.rule, r.options}}); !ok)
      refuse(r.line, describe(ok.error()));
    return r;
  }

  void read_annotate(const entry& e, pipeline_spec& spec) {
    if (!e.value.IsMap())
      refuse(e.line, "'annotate' is a map with 'labelling_functions' and 'overwrite'");
    auto m = read_map(e.value, {"labelling_functions", "overwrite"}, "annotate");
    if (const auto* o = get(m, "overwrite"))
      spec.overwrite_labels = read_bool(*o);
    if (const auto* lfs = get(m, "labelling_functions"))
      for (const auto& item : list_of(*lfs))
        spec.labelling_functions.push_back(read_lf(item));
  }

  labelling_function_decl read_lf(const YAML::Node& item) {
    if (!item.IsMap())
      refuse(line_of(item), "each labelling function is a map: name, kind, patterns, label");
    auto m = read_map(item, {"name", "kind", "patterns", "label", "weight", "case_sensitive"},
                      "a labelling function");
    labelling_function_decl lf;
    lf.line = line_of(item);
    for (const char* key : {"name", "kind", "patterns", "label"})
      if (!get(m, key))
        refuse(lf.line, std::string{"a labelling function needs '"} + key + "'");
    lf.name = read_name(*get(m, "name"));
    lf.kind = read_choice(*get(m, "kind"), {"keywords", "regex"});
    for (const auto& p : list_of(*get(m, "patterns"))) {
      if (!p.IsScalar())
        refuse(line_of(p), "patterns of '" + lf.name + "' must be plain strings");
      lf.patterns.push_back(p.Scalar());
    }
    lf.label = read_string(*get(m, "label"));
    if (const auto* w = get(m, "weight"))
      lf.weight = read_double(*w, 0.0, 1e6);
    if (const auto* cs = get(m, "case_sensitive"))
      lf.case_sensitive = read_bool(*cs);
    return lf;
  }

  /// The keys of section `e` (split, augment, ...), refused unless it is a map; `shape` lists
  /// what the map holds, for the refusal.
  static entries read_section(const entry& e, const std::vector<std::string>& keys,
                              const std::string& shape) {
    if (!e.value.IsMap())
      refuse(e.line, "'" + e.key + "' is a map: " + shape);
    return read_map(e.value, keys, e.key);
  }

  split_decl read_split(const entry& e) {
    auto m = read_section(e, {"train", "validation", "test", "seed"},
                          "train, validation, test (fractions), seed");
    split_decl s;
    if (const auto* v = get(m, "train"))
      s.train = read_double(*v, 0, 1);
    if (const auto* v = get(m, "validation"))
      s.validation = read_double(*v, 0, 1);
    if (const auto* v = get(m, "test"))
      s.test = read_double(*v, 0, 1);
    if (const auto* v = get(m, "seed"))
      s.seed = read_unsigned(*v, 0, UINT64_MAX, "any whole number");
    if (std::abs(s.train + s.validation + s.test - 1.0) > 1e-9)
      refuse(e.line, "split fractions add up to " +
                         std::to_string(s.train + s.validation + s.test) +
                         "; make train + validation + test = 1");
    return s;
  }

  augment_decl read_augment(const entry& e) {
    auto m = read_section(e, {"rate", "copies", "seed", "image_shift", "image_flip"},
                          "rate, copies, seed, image_shift, image_flip");
    augment_decl a;
    a.enabled = true;
    if (const auto* v = get(m, "rate"))
      a.rate = read_double(*v, 0, 1);
    if (const auto* v = get(m, "copies"))
      a.copies = static_cast<uint32_t>(read_unsigned(*v, 0, 100, "augmented copies per record"));
    if (const auto* v = get(m, "seed"))
      a.seed = read_unsigned(*v, 0, UINT64_MAX, "any whole number");
    if (const auto* v = get(m, "image_shift"))
      a.image_shift = static_cast<uint32_t>(read_unsigned(*v, 0, 64, "pixels"));
    if (const auto* v = get(m, "image_flip"))
      a.image_flip = read_bool(*v);
    return a;
  }

  schedule_decl read_schedule(const entry& e) {
    auto m =
        read_section(e, {"every", "scheduler", "priority"}, "every (e.g. 6h), scheduler, priority");
    schedule_decl s;
    const auto* every = get(m, "every");
    if (every == nullptr)
      refuse(e.line, "'schedule' needs 'every': how often to ingest (30s, 15m, 6h, 1d)");
    s.every_s = read_period(*every);
    if (const auto* v = get(m, "scheduler"))
      s.scheduler = read_name(*v);
    if (const auto* v = get(m, "priority"))
      s.priority = static_cast<int32_t>(read_unsigned(*v, 0, 1000, "0 (lowest) to 1000"));
    return s;
  }

  /// "<n>s", "<n>m", "<n>h" or "<n>d", from 1 second to 30 days.
  static uint64_t read_period(const entry& e) {
    const auto text = read_string(e);
    const auto unit = text.empty() ? '?' : text.back();
    const auto digits = text.substr(0, text.empty() ? 0 : text.size() - 1);
    const uint64_t scale = unit == 's'   ? 1
                           : unit == 'm' ? 60
                           : unit == 'h' ? 3600
                           : unit == 'd' ? 86400
                                         : 0;
    if (scale == 0 || digits.empty() || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      refuse(e.line,
             "'every' must be a whole number and a unit (s, m, h, d), e.g. 6h; got '" + text + "'");
    const auto seconds = std::stoull(digits) * scale;
    if (seconds < 1 || seconds > 30 * 86400)
      refuse(e.line, "'every' must be from 1s to 30d, got '" + text + "'");
    return seconds;
  }

  tokenizer_decl read_tokenizer(const entry& e) {
    auto m = read_section(e, {"kind", "vocab_size", "max_length", "character_coverage", "from"},
                          "kind, vocab_size, max_length, character_coverage, from");
    tokenizer_decl t;
    if (const auto* v = get(m, "kind"))
      t.kind = read_choice(*v, {"byte", "char", "bpe", "unigram"});
    if (const auto* v = get(m, "vocab_size"))
      t.vocab_size = static_cast<uint32_t>(read_unsigned(*v, 16, 1'000'000, "tokens"));
    if (const auto* v = get(m, "max_length"))
      t.max_length = static_cast<uint32_t>(read_unsigned(*v, 1, 65536, "tokens per record"));
    if (const auto* v = get(m, "character_coverage"))
      t.character_coverage = read_double(*v, 0.5, 1.0);
    // A fine-tune's data must be tokenized as the model it continues was: reuse its tokenizer.
    if (const auto* v = get(m, "from"))
      t.from = resolve(read_string(*v));
    return t;
  }

  std::string file_;
  fs::path base_;
  std::set<std::string> names_;
};

} // namespace

const std::vector<std::string>& known_source_kinds() {
  return reader_kinds(); // one list: the kinds read_source dispatches
}

const std::vector<std::string>& known_clean_rules() {
  return clean_rule_names();
}

caf::expected<pipeline_spec> parse_pipeline(const std::string& text, const std::string& file) {
  return yaml_fields::parse_guarded(text, file, [&](const YAML::Node& root) {
    pipeline_parser parser{file};
    auto spec = parser.parse(root);
    spec.text = text; // part of the data set version
    return spec;
  });
}

caf::expected<pipeline_spec> load_pipeline(const std::string& path) {
  return yaml_fields::load_file(path, "pipeline", parse_pipeline);
}

} // namespace llmos::dataset
