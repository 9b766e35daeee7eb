// Test corpora for the tokenize/split/store tests: fortune files read into entries (separated by
// lines holding only '%', ANSI colour codes stripped, as fortunes-zh colours its titles), and
// small made-up record sets. The real files come from the setup cache; callers skip when absent.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "dataset/data_dir.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset::test_corpus {

/// `line` without ESC[...m colour sequences.
inline std::string strip_ansi(const std::string& line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      std::size_t j = i + 2;
      while (j < line.size() && ((line[j] >= '0' && line[j] <= '9') || line[j] == ';'))
        ++j;
      if (j < line.size() && line[j] == 'm') {
        i = j;
        continue;
      }
    }
    out.push_back(line[i]);
  }
  return out;
}

/// The entries of a fortune file (empty when the file cannot be read).
inline std::vector<std::string> read_fortunes(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::vector<std::string> out;
  std::string line;
  std::string entry;
  auto flush = [&] {
    while (!entry.empty() && (entry.back() == '\n' || entry.back() == '\r'))
      entry.pop_back();
    if (!entry.empty())
      out.push_back(entry);
    entry.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line == "%") {
      flush();
      continue;
    }
    entry += strip_ansi(line);
    entry += '\n';
  }
  flush();
  return out;
}

/// The Tang poems of fortunes-zh, or empty when the set is not installed.
inline std::vector<std::string> chinese_poems() {
  const auto path = data_path("fortunes-zh/usr/share/games/fortunes/tang300");
  return path.empty() ? std::vector<std::string>{} : read_fortunes(path);
}

/// English fortunes of a few categories as labelled records (label = category), or empty.
inline std::vector<record> english_fortunes() {
  std::vector<record> out;
  for (const char* category : {"computers", "people", "science", "wisdom"}) {
    const auto path = data_path(std::string{"fortunes/usr/share/games/fortunes/"} + category);
    if (path.empty())
      continue;
    auto entries = read_fortunes(path);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      record r;
      r.id = std::string{category} + "#" + std::to_string(i);
      r.text = std::move(entries[i]);
      r.label = category;
      out.push_back(std::move(r));
    }
  }
  return out;
}

} // namespace llmos::dataset::test_corpus
