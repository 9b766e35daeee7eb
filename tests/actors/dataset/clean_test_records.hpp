// The records the cleaning tests feed their rules: one per text, in order, with ids
// `prefix`0, `prefix`1, ... and an origin of mail.txt:1, :2, ... (what reasons and quarantine
// entries name).
#pragma once

#include <string>
#include <vector>

#include "dataset/record.hpp"

namespace llmos::dataset {

inline std::vector<record> make_records(const std::vector<std::string>& texts,
                                        const std::string& prefix = "r") {
  std::vector<record> out;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    record r;
    r.id = prefix + std::to_string(i);
    r.text = texts[i];
    r.origin.source = "test";
    r.origin.path = "mail.txt";
    r.origin.line = i + 1;
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace llmos::dataset
