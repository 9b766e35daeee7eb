// The traffic simulator of the feedback loop's demo: users send held-back texts to a model's HTTP
// route and tell it, for some of them, what the right answer was. Texts are split once into a
// "feedback" pool (users give feedback on these) and a "probe" pool (never any feedback): the
// accuracy of each version on probe texts is the honest before/after measure, untouched by what
// the loop trained on.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmos::loop {

struct labelled_text {
  std::string text;
  std::string label;
  bool probe = false;
};

struct traffic_options {
  std::string host = "127.0.0.1";
  uint16_t http_port = 47280;
  std::string model;
  uint32_t requests = 1000;       ///< at most this many
  double feedback_share = 0.5;    ///< of the feedback pool's requests, how many get feedback
  double probe_share = 0.3;       ///< of the texts, kept as probes
  double rate = 0;                ///< requests per second (0 = as fast as answered)
  uint32_t after_promotion = 200; ///< requests still sent once a new version answers
  uint64_t seed = 1;
  std::string csv; ///< one row per request ("" = none)
  /// Language model mode: the first `prompt_words` words of a text are the prompt (POST
  /// /v1/completions); the user likes a completion that shares a word of four letters or more
  /// with the text's real continuation, and otherwise gives that continuation as the preferred
  /// completion.
  bool completions = false;
  uint32_t prompt_words = 3;
  uint32_t max_tokens = 24;
};

/// The simulated user's taste (completions mode): whether `completion` shares a word of four
/// letters or more (case-folded, letters only) with `reference`.
bool likes(const std::string& completion, const std::string& reference);

/// The first `n` words of `text` (the prompt) and the rest (what really followed).
std::pair<std::string, std::string> split_prompt(const std::string& text, uint32_t n);

/// What one run saw: per version, requests and accuracy on the probe texts.
struct traffic_result {
  uint32_t sent = 0, failed = 0, feedback = 0;
  uint32_t first_version = 0;   ///< the version that served first
  uint32_t last_version = 0;    ///< the version that served last (10 answers in a row)
  double promoted_after_s = -1; ///< when the first answer from a newer version came
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> probe; ///< version -> (correct, count)
  std::vector<double> latencies_ms;
  nlohmann::json to_json() const;
};

/// Marks a seeded `probe_share` of the texts as probes.
void mark_probes(std::vector<labelled_text>& texts, double probe_share, uint64_t seed);

/// Sends the traffic; stops after `requests`, or `after_promotion` requests once a newer version
/// than the first answers. Progress lines go to stderr.
traffic_result run_traffic(const traffic_options& opts, const std::vector<labelled_text>& texts);

} // namespace llmos::loop
