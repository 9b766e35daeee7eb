// Node "a" alone with the quotes data set (real fortunes, byte-tokenised) and a scheduler: the
// setup the single-node scheduler and tuner tests (scheduler_test.cpp) share.
#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"
#include "solo_node.hpp"

namespace llmos::test {

/// The quotes data set (real fortunes), byte-tokenised, stored in the test's folder.
inline void write_quotes(const std::filesystem::path& dir) {
  write_file(
      dir / "quotes.yaml",
      "dataset: quotes\nroot: store\n"
      "sources:\n"
      "  - {name: fortunes, kind: fortunes, path: \"${DATA}/fortunes/usr/share/games/fortunes\"}\n"
      "clean:\n  - rule: normalise\n  - rule: exact_dedupe\n"
      "split: {train: 0.8, validation: 0.1, test: 0.1, seed: 42}\n"
      "tokenizer: {kind: byte, max_length: 64}\n");
  write_file(dir / "topic.yaml",
             "model: sched-topic\narchitecture: bag\n"
             "hyper: {embed_dim: 128, hidden_dim: 512, dropout: 0.1}\n"
             "train: {optimizer: adamw, lr: 0.005, batch_size: 64, max_steps: 100, "
             "warmup_steps: 10, eval_every: 50}\n");
}

/// Node "a" alone with two CPU threads, the quotes data set (written by write_quotes) and a
/// scheduler "sched" with `sched_config`, then the `more` actor lines: the setup of the
/// single-node scheduler and tuner tests.
struct quotes_node {
  quotes_node(const std::string& tag, const std::string& cluster, const std::string& sched_config,
              const std::string& more = "")
      : dir{tag}, node{with_quotes(dir), cluster, free_ports(2), 2,
                       "      - {name: quotes, kind: dataset, config: {pipeline: quotes.yaml}}\n"
                       "      - {name: sched, kind: scheduler, config: " +
                           sched_config + "}\n" + more} {}

  /// The node answers, and the quotes data set is ingested.
  testing::AssertionResult ingested() {
    if (auto up = node.up(); !up)
      return up;
    auto answer =
        rpc_send(node.rpc, nlohmann::json::array({"quotes", "ingest", nlohmann::json::object()}));
    if (answer.contains("error"))
      return testing::AssertionFailure() << answer.dump() << node.log();
    return testing::AssertionSuccess();
  }

  temp_dir dir;
  solo_node node;

private:
  // The data set's files are in the folder before the node that reads them starts.
  static const temp_dir& with_quotes(const temp_dir& d) {
    write_quotes(d.path());
    return d;
  }
};

} // namespace llmos::test
