#include "traffic.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include <httplib.h>

namespace llmos::loop {

using clock_type = std::chrono::steady_clock;

nlohmann::json traffic_result::to_json() const {
  nlohmann::json probes = nlohmann::json::object();
  for (const auto& [v, cn] : probe)
    probes[std::to_string(v)] = {{"correct", cn.first},
                                 {"count", cn.second},
                                 {"accuracy", cn.second ? double(cn.first) / cn.second : 0.0}};
  auto sorted = latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) {
    return sorted.empty() ? 0.0 : sorted[static_cast<std::size_t>(p * (sorted.size() - 1))];
  };
  return {{"sent", sent},
          {"failed", failed},
          {"feedback", feedback},
          {"first_version", first_version},
          {"last_version", last_version},
          {"promoted_after_s", promoted_after_s},
          {"probe_accuracy", probes},
          {"latency_ms", {{"p50", pct(0.5)}, {"p99", pct(0.99)}}}};
}

namespace {

std::set<std::string> content_words(const std::string& text) {
  std::set<std::string> out;
  std::string word;
  for (char c : text + " ") {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      if (word.size() >= 4)
        out.insert(word);
      word.clear();
    }
  }
  return out;
}

} // namespace

bool likes(const std::string& completion, const std::string& reference) {
  const auto want = content_words(reference);
  for (const auto& w : content_words(completion))
    if (want.count(w))
      return true;
  return false;
}

std::pair<std::string, std::string> split_prompt(const std::string& text, uint32_t n) {
  std::size_t pos = 0;
  for (uint32_t k = 0; k < n && pos < text.size(); ++k) {
    pos = text.find_first_not_of(" \t\n", pos);
    if (pos == std::string::npos)
      return {text, ""};
    pos = text.find_first_of(" \t\n", pos);
    if (pos == std::string::npos)
      return {text, ""};
  }
  return {text.substr(0, pos), text.substr(pos)};
}

void mark_probes(std::vector<labelled_text>& texts, double probe_share, uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::uniform_real_distribution<double> u{0.0, 1.0};
  for (auto& t : texts)
    t.probe = u(rng) < probe_share;
}

namespace {

/// Which version serves. A canary answers a share of the requests too, so a version serves once
/// it answered 10 requests in a row; the first time a version other than the first does, it was
/// promoted. Probe answers are counted per version that gave them.
struct version_tracker {
  uint32_t run_version = 0, run = 0;
  uint32_t since_promotion = 0; ///< answers since the promotion (0 before it)

  void seen(traffic_result& res, uint32_t version, bool probe, bool success,
            clock_type::time_point start) {
    if (res.first_version == 0)
      res.first_version = res.last_version = version;
    run = version == run_version ? run + 1 : 1;
    run_version = version;
    if (run >= 10) {
      res.last_version = version;
      if (version != res.first_version && res.promoted_after_s < 0)
        res.promoted_after_s = std::chrono::duration<double>(clock_type::now() - start).count();
    }
    if (res.promoted_after_s >= 0)
      ++since_promotion;
    if (probe) {
      auto& cn = res.probe[version];
      cn.first += success ? 1 : 0;
      ++cn.second;
    }
  }
};

/// Books the answer `r` to a request sent at `sent_at` as sent, then returns its body, with its
/// latency recorded, when it is a 200 whose `list` (choices, predictions) has an entry, and
/// otherwise null, counted as failed.
nlohmann::json answered(const httplib::Result& r, const char* list, clock_type::time_point sent_at,
                        traffic_result& res) {
  const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - sent_at).count();
  ++res.sent;
  auto body =
      r && r->status == 200 ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json{};
  if (!body.is_object() || !body.contains(list) || body[list].empty()) {
    ++res.failed;
    return nullptr;
  }
  res.latencies_ms.push_back(ms);
  return body;
}

/// Posts `fb` to /v1/feedback; whether the gateway took it (counted in res.feedback).
bool give_feedback(httplib::Client& web, const nlohmann::json& fb, traffic_result& res) {
  auto f = web.Post("/v1/feedback", fb.dump(), "application/json");
  const bool gave = f && f->status == 202;
  res.feedback += gave ? 1 : 0;
  return gave;
}

/// One completion request and the user's rating (completions mode); the same bookkeeping as a
/// prediction, with "correct" meaning the user liked it.
void send_completion(httplib::Client& web, const traffic_options& o, const labelled_text& t,
                     uint32_t n, clock_type::time_point start, clock_type::time_point sent_at,
                     traffic_result& res, std::ofstream& csv, version_tracker& track) {
  const auto [prompt, rest] = split_prompt(t.text, o.prompt_words);
  nlohmann::json req{{"model", o.model},   {"prompt", prompt}, {"max_tokens", o.max_tokens},
                     {"temperature", 0.8}, {"top_k", 40},      {"seed", o.seed + n}};
  auto body = answered(web.Post("/v1/completions", req.dump(), "application/json"), "choices",
                       sent_at, res);
  if (body.is_null())
    return;
  const double ms = res.latencies_ms.back(); // recorded by answered()
  const auto id = body.value("id", std::string{});
  const auto text = body["choices"][0].value("text", std::string{});
  // Not an OpenAI field: the gateway adds the version that answered.
  const auto version = body.value("version", 0u);
  const bool liked = likes(text, rest);
  track.seen(res, version, t.probe, liked, start);
  bool gave = false;
  if (!t.probe) {
    nlohmann::json fb{{"request_id", id}, {"rating", liked ? 1 : -1}};
    if (!liked && !rest.empty())
      fb["completion"] = rest;
    gave = give_feedback(web, fb, res);
  }
  if (csv)
    csv << std::chrono::duration<double>(sent_at - start).count() << ',' << id << ',' << version
        << ',' << (t.probe ? 1 : 0) << ",,," << 0 << ',' << (liked ? 1 : 0) << ',' << ms << ','
        << (gave ? 1 : 0) << '\n';
  if ((n + 1) % 100 == 0)
    std::cerr << "traffic: " << n + 1 << " completions, serving v" << version << ", "
              << res.feedback << " ratings\n";
}

/// One prediction request, its answer recorded (and in the CSV), and feedback for a non-probe
/// text with probability feedback_share (drawn from `rng` only then, as the seed promises).
void send_prediction(httplib::Client& web, const traffic_options& o, const labelled_text& t,
                     uint32_t n, clock_type::time_point start, clock_type::time_point sent_at,
                     traffic_result& res, std::ofstream& csv, version_tracker& track,
                     std::mt19937_64& rng) {
  auto body = answered(web.Post("/v1/models/" + o.model + ":predict",
                                nlohmann::json{{"instances", {t.text}}}.dump(), "application/json"),
                       "predictions", sent_at, res);
  if (body.is_null())
    return;
  const double ms = res.latencies_ms.back(); // recorded by answered()
  const auto version = body.value("version", 0u);
  const auto id = body.value("request_id", std::string{});
  const auto& p = body["predictions"][0];
  const auto predicted = p.value("label", std::string{});
  const bool correct = predicted == t.label;
  track.seen(res, version, t.probe, correct, start);
  bool gave = false;
  std::uniform_real_distribution<double> u{0.0, 1.0};
  if (!t.probe && u(rng) < o.feedback_share) {
    nlohmann::json fb{{"request_id", id}, {"label", t.label}, {"rating", correct ? 1 : -1}};
    gave = give_feedback(web, fb, res);
  }
  if (csv)
    csv << std::chrono::duration<double>(sent_at - start).count() << ',' << id << ',' << version
        << ',' << (t.probe ? 1 : 0) << ',' << t.label << ',' << predicted << ','
        << p.value("confidence", 0.0) << ',' << (correct ? 1 : 0) << ',' << ms << ','
        << (gave ? 1 : 0) << '\n';
  if ((n + 1) % 100 == 0)
    std::cerr << "traffic: " << n + 1 << " requests, serving v" << version << ", " << res.feedback
              << " feedback\n";
}

} // namespace

traffic_result run_traffic(const traffic_options& o, const std::vector<labelled_text>& texts) {
  traffic_result res;
  if (texts.empty())
    return res;
  httplib::Client web{o.host, o.http_port};
  web.set_read_timeout(60, 0);
  web.set_keep_alive(true);
  web.set_tcp_nodelay(true); // else delayed ACKs add 40 ms to every small request
  std::ofstream csv;
  if (!o.csv.empty()) {
    csv.open(o.csv, std::ios::trunc);
    csv << "seconds,request_id,version,probe,truth,predicted,confidence,correct,latency_ms,"
           "feedback\n";
  }
  std::mt19937_64 rng{o.seed};
  std::vector<std::size_t> order(texts.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  const auto start = clock_type::now();
  version_tracker track;
  for (uint32_t n = 0; n < o.requests; ++n) {
    if (n % order.size() == 0)
      std::shuffle(order.begin(), order.end(), rng);
    if (o.rate > 0) {
      auto due = start + std::chrono::duration_cast<clock_type::duration>(
                             std::chrono::duration<double>(n / o.rate));
      std::this_thread::sleep_until(due);
    }
    const auto& t = texts[order[n % order.size()]];
    const auto sent_at = clock_type::now();
    if (o.completions)
      send_completion(web, o, t, n, start, sent_at, res, csv, track);
    else
      send_prediction(web, o, t, n, start, sent_at, res, csv, track, rng);
    if (track.since_promotion >= o.after_promotion)
      break;
  }
  return res;
}

} // namespace llmos::loop
