#include "dataset/quarantine.hpp"

#include <memory>

#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

constexpr std::size_t max_examples = 5;
constexpr std::size_t max_text = 2000;

} // namespace

std::string utf8_prefix(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text;
  std::size_t cut = max_bytes;
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a code point boundary.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut);
}

caf::expected<quarantine> quarantine::open(const std::string& path) {
  quarantine q;
  q.path_ = path;
  q.out_ = std::make_shared<std::ofstream>(path, std::ios::app | std::ios::binary);
  if (!*q.out_)
    return make_llmos_error(error_code::io_failed,
                            "cannot open quarantine file '" + path + "' for appending");
  return q;
}

void quarantine::add(quarantine_entry entry) {
  entry.text = utf8_prefix(entry.text, max_text);
  ++counts_[entry.rule];
  if (out_) {
    nlohmann::json j{
        {"rule", entry.rule},        {"reason", entry.reason},    {"source", entry.origin.source},
        {"path", entry.origin.path}, {"line", entry.origin.line}, {"index", entry.origin.index},
        {"text", entry.text}};
    // Invalid UTF-8 in a rejected record must not stop the quarantine from recording it.
    *out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    out_->flush();
  }
  auto& ex = examples_[entry.rule];
  if (ex.size() < max_examples)
    ex.push_back(std::move(entry));
}

void quarantine::add(const std::string& rule, const std::string& reason, const record& r) {
  add(quarantine_entry{rule, reason, r.origin, r.text});
}

caf::expected<std::vector<quarantine_entry>> quarantine::read(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_llmos_error(error_code::io_failed, "cannot read quarantine file '" + path + "'");
  std::vector<quarantine_entry> out;
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty())
      continue;
    try {
      auto j = nlohmann::json::parse(line);
      quarantine_entry e;
      e.rule = j.at("rule").get<std::string>();
      e.reason = j.at("reason").get<std::string>();
      e.origin.source = j.value("source", "");
      e.origin.path = j.value("path", "");
      e.origin.line = j.value("line", uint64_t{0});
      e.origin.index = j.value("index", uint64_t{0});
      e.text = j.value("text", "");
      out.push_back(std::move(e));
    } catch (const std::exception& ex) {
      // A line cut short by a crash mid-write is the only expected damage: report, keep going.
      if (in.peek() != EOF)
        return make_llmos_error(error_code::io_failed,
                                path + ":" + std::to_string(n) +
                                    ": not a quarantine entry: " + ex.what());
    }
  }
  return out;
}

} // namespace llmos::dataset
