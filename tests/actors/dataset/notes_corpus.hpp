// A small planted data set for the pipeline runner, batch stream and dataset actor tests: 60
// JSON Lines records (English and Chinese, labels sport / tech / poem, a few unlabelled) with
// exact duplicates, near duplicates, too-short records and a malformed line at known lines, and
// the pipeline file that cleans, labels, splits and byte-tokenises them. The tests compare what
// every stage did with what was planted here.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../temp_folder.hpp"

namespace llmos::dataset::notes {

/// Writes `text` to `file` (creating its folder).
inline void write_text(const std::string& file, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path{file}.parent_path());
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << text;
}

/// What was planted, by line of the JSON Lines file (1-based).
struct corpus {
  std::string jsonl;
  uint64_t lines = 0;
  std::map<std::string, std::set<uint64_t>> removed; ///< quarantine rule -> lines
  std::set<uint64_t> kept;                           ///< lines that survive cleaning
  uint64_t normalised = 0;                           ///< records normalise changes
  uint64_t labelled_by_lf = 0;            ///< unlabelled records the keyword function labels
  std::map<std::string, uint64_t> labels; ///< kept records per label after annotation
};

// Plain words (all in the English thesaurus) from which the English records are drawn; random
// 30-word sequences of them share too few 5-character shingles to count as near duplicates.
inline const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> words{
      "river",   "garden",   "window",  "market",  "silver",  "engine",  "forest",  "bright",
      "quiet",   "simple",   "travel",  "winter",  "summer",  "letter",  "number",  "people",
      "water",   "mountain", "village", "yellow",  "button",  "camera",  "pocket",  "rocket",
      "castle",  "basket",   "doctor",  "farmer",  "hunter",  "singer",  "painter", "teacher",
      "orange",  "purple",   "gentle",  "strong",  "narrow",  "hollow",  "stable",  "fragile",
      "ancient", "modern",   "careful", "clever",  "honest",  "patient", "sudden",  "distant",
      "carry",   "follow",   "borrow",  "wonder",  "gather",  "listen",  "answer",  "remember",
      "build",   "climb",    "drive",   "paint",   "write",   "repair",  "measure", "promise",
      "kitchen", "bottle",   "candle",  "mirror",  "pillow",  "ladder",  "hammer",  "needle",
      "island",  "desert",   "valley",  "meadow",  "harvest", "thunder", "shadow",  "rainbow",
      "coffee",  "butter",   "pepper",  "cheese",  "bread",   "honey",   "apple",   "lemon",
      "planet",  "signal",   "circuit", "machine", "program", "network", "server",  "screen",
      "player",  "coach",    "stadium", "match",   "score",   "season",  "league",  "trophy"};
  return words;
}

/// A sentence of `n` words drawn with `rng` (taken modulo, so it is the same on every platform).
inline std::string random_sentence(std::mt19937& rng, std::size_t n) {
  const auto& words = vocabulary();
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += (i == 0 ? "" : " ") + words[rng() % words.size()];
  return out;
}

inline std::string json_line(const std::string& text, const std::string& label) {
  return nlohmann::json{{"text", text}, {"label", label}}.dump() + "\n";
}

/// 36 English records, 8 Tang poems, 5 unlabelled records, 5 exact and 3 near duplicates, 2 too
/// short records and one malformed line: 60 lines, 49 records kept.
inline corpus make_corpus() {
  corpus c;
  std::mt19937 rng{42};
  std::vector<std::string> english;
  auto add = [&](const std::string& line, const std::string& removed_by) {
    c.jsonl += line;
    ++c.lines;
    if (removed_by.empty())
      c.kept.insert(c.lines);
    else
      c.removed[removed_by].insert(c.lines);
  };
  for (int i = 0; i < 36; ++i) {
    english.push_back(random_sentence(rng, 30));
    const std::string label = i % 2 == 0 ? "sport" : "tech";
    ++c.labels[label];
    if (i < 3) {
      // Runs of blanks and a tab: normalise collapses them.
      std::string messy = "  " + english.back() + "\t ";
      messy.insert(messy.find(' ', 5), "   ");
      add(json_line(messy, label), "");
      ++c.normalised;
    } else {
      add(json_line(english.back(), label), "");
    }
  }
  const std::vector<std::string> poems{"床前明月光，疑是地上霜。举头望明月，低头思故乡。",
                                       "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
                                       "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
                                       "红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
                                       "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
                                       "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。",
                                       "慈母手中线，游子身上衣。临行密密缝，意恐迟迟归。",
                                       "松下问童子，言师采药去。只在此山中，云深不知处。"};
  for (const auto& p : poems) {
    add(json_line(p, "poem"), "");
    ++c.labels["poem"];
    ++c.normalised; // NFKC turns the full-width comma into ','
  }
  add("{\"text\": \"a line cut short\", \"label\": \n", "jsonl_reader");
  for (int i = 0; i < 4; ++i) {
    add(json_line(random_sentence(rng, 20) + " football", ""), "");
    ++c.labels["sport"];
    ++c.labelled_by_lf;
  }
  add(json_line(random_sentence(rng, 20), ""), "");
  ++c.labels[""];
  // Exact duplicates: the same key after case folding and removing punctuation and blanks.
  add(json_line(english[5], "tech"), "exact_dedupe");
  std::string upper = english[10];
  for (auto& ch : upper)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  add(json_line(upper + "!!!", "sport"), "exact_dedupe");
  std::string spaced = english[20];
  spaced.insert(spaced.find(' '), "  ");
  add(json_line(spaced, "sport"), "exact_dedupe");
  ++c.normalised;
  add(json_line("床前明月光, 疑是地上霜. 举头望明月, 低头思故乡.", "poem"), "exact_dedupe");
  add(json_line(english[30], "sport"), "exact_dedupe");
  // Near duplicates: the last of 30 words replaced.
  for (int i : {7, 15, 25}) {
    auto text = english[static_cast<std::size_t>(i)];
    text = text.substr(0, text.rfind(' ')) + " harbour";
    add(json_line(text, i % 2 == 0 ? "sport" : "tech"), "near_dedupe");
  }
  // Too short (min_chars 8, counted in code points: the Chinese one has 15 bytes but 5 chars).
  add(json_line("ok", "tech"), "length_filter");
  add(json_line("今天天气好", "poem"), "length_filter");
  return c;
}

/// What the pipeline file declares besides the fixed cleaning and labelling.
struct pipeline_options {
  std::string dataset = "notes";
  std::string source = "notes.jsonl"; ///< relative to the pipeline file
  bool augment = false;
  std::string extra_source; ///< a second jsonl source (path) when not empty
  uint32_t max_length = 48;
  uint32_t shard_records = 10;
};

/// The pipeline file (root and quarantine inside the pipeline's folder).
inline std::string pipeline_yaml(const pipeline_options& o = {}) {
  std::ostringstream os;
  os << "dataset: " << o.dataset << "\n"
     << "root: store\n"
     << "quarantine: store/" << o.dataset << ".quarantine.jsonl\n"
     << "sources:\n"
     << "  - name: notes\n"
     << "    kind: jsonl\n"
     << "    path: " << o.source << "\n"
     << "    options: {label_field: label}\n";
  if (!o.extra_source.empty())
    os << "  - name: more\n"
       << "    kind: jsonl\n"
       << "    path: " << o.extra_source << "\n"
       << "    options: {label_field: label}\n";
  os << "clean:\n"
     << "  - rule: normalise\n"
     << "  - rule: exact_dedupe\n"
     << "  - rule: near_dedupe\n"
     << "    options: {threshold: 0.8, verify: exact}\n"
     << "  - rule: length_filter\n"
     << "    options: {min_chars: 8}\n"
     << "annotate:\n"
     << "  labelling_functions:\n"
     << "    - {name: ball, kind: keywords, patterns: [football], label: sport}\n"
     << "split: {train: 0.6, validation: 0.2, test: 0.2, seed: 3}\n";
  if (o.augment)
    os << "augment: {rate: 0.1, copies: 1, seed: 2}\n";
  os << "tokenizer: {kind: byte, max_length: " << o.max_length << "}\n"
     << "shard_records: " << o.shard_records << "\n";
  return os.str();
}

/// Writes the corpus and a pipeline file into `dir`; returns the pipeline file's path.
inline std::string write_pipeline(const std::filesystem::path& dir, const corpus& c,
                                  const pipeline_options& o = {}) {
  write_text((dir / o.source).string(), c.jsonl);
  const auto file = (dir / (o.dataset + ".yaml")).string();
  write_text(file, pipeline_yaml(o));
  return file;
}

/// The 1-based line of `text` on which `needle` first appears (0 when it does not).
inline int line_of(const std::string& text, const std::string& needle) {
  const auto pos = text.find(needle);
  if (pos == std::string::npos)
    return 0;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
}

} // namespace llmos::dataset::notes
