#include "loop_bench.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <tuple>
#include <utility>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "bench_process.hpp"
#include "feedback/core/record_log.hpp"
#include "feedback/core/version_stats.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::bench {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

/// The same feedback the demo's users send, joined to a logged request.
std::string feedback_payload(int i) {
  return nlohmann::json{{"kind", "feedback"},
                        {"request_id", "spam-serve-0a1b2c-" + std::to_string(i)},
                        {"label", i % 3 == 0 ? "spam" : "ham"},
                        {"rating", i % 3 == 0 ? -1 : 1},
                        {"time", 1.7e9 + i}}
      .dump();
}

/// Ours: what the analyst does per feedback record (join to its request, analyse, append to the
/// checksummed log under the fsync policy). Records per second.
double ours(const fs::path& dir, feedback::fsync_policy policy, int n) {
  fs::remove_all(dir);
  feedback::feedback_analysis analysis;
  for (int i = 0; i < n; ++i)
    analysis.on_request({"spam-serve-0a1b2c-" + std::to_string(i), "spam-bag", 1,
                         "Subject: cheap meds\n\nbuy now " + std::to_string(i),
                         i % 2 ? "spam" : "ham", 0.8, "", 1.7e9 + i});
  feedback::log_options o;
  o.policy = policy;
  auto log = feedback::record_log::open((dir / "feedback.log").string(), o, nullptr);
  if (!log) {
    std::cerr << "loop bench: " << describe(log.error()) << "\n";
    return 0;
  }
  const auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    auto payload = feedback_payload(i);
    auto fb = feedback::feedback_from_json(nlohmann::json::parse(payload), "bench");
    if (fb)
      (void)analysis.on_feedback(*fb);
    (void)log->append(payload);
  }
  (void)log->sync();
  return n / std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Raw: write(2) of the same framed size, fdatasync per record or every 64.
double raw(const fs::path& dir, bool every, int n) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  int fd = ::open((dir / "raw.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const auto start = clock_type::now();
  for (int i = 0; i < n; ++i) {
    auto payload = feedback_payload(i);
    payload.insert(0, 16, '\0');
    if (::write(fd, payload.data(), payload.size()) < 0)
      break;
    if (every || (i + 1) % 64 == 0)
      ::fdatasync(fd);
  }
  ::fdatasync(fd);
  ::close(fd);
  return n / std::chrono::duration<double>(clock_type::now() - start).count();
}

/// The ingest figures: ours and raw writes, fsync per record and batched, and the Python peer's.
void measure_ingest(const loop_options& opts, const fs::path& dir, nlohmann::json& out) {
  const int n = opts.records, nb = opts.records * 10;
  out["feedback_per_s_fsync"] = ours(dir / "ours", feedback::fsync_policy::every_record, n);
  out["feedback_per_s_batched"] = ours(dir / "ours", feedback::fsync_policy::batched, nb);
  out["raw_per_s_fsync"] = raw(dir / "raw", true, n);
  out["raw_per_s_batched"] = raw(dir / "raw", false, nb);
  if (opts.python_script.empty())
    return;
  int rc = 0;
  auto text = command_output("python3 " + opts.python_script + " " + (dir / "py").string() + " " +
                                 std::to_string(n) + " " + std::to_string(nb),
                             &rc);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (rc == 0 && j.is_object()) {
    out["python_per_s_fsync"] = j["fsync"];
    out["python_per_s_batched"] = j["batched"];
  }
}

void print_ingest(const nlohmann::json& out) {
  std::printf("feedback ingest (records/s)   fsync each   batched (64)\n");
  std::printf("  llmos analyst core         %11.0f   %12.0f\n",
              out["feedback_per_s_fsync"].get<double>(),
              out["feedback_per_s_batched"].get<double>());
  std::printf("  raw write + fdatasync      %11.0f   %12.0f\n",
              out["raw_per_s_fsync"].get<double>(), out["raw_per_s_batched"].get<double>());
  if (out.contains("python_per_s_fsync"))
    std::printf("  Python json + os.fsync     %11.0f   %12.0f\n",
                out["python_per_s_fsync"].get<double>(), out["python_per_s_batched"].get<double>());
  std::printf("  ratio ours/raw             %11.2f   %12.2f\n",
              out["feedback_per_s_fsync"].get<double>() / out["raw_per_s_fsync"].get<double>(),
              out["feedback_per_s_batched"].get<double>() / out["raw_per_s_batched"].get<double>());
}

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in{file};
  return nlohmann::json::parse(in, nullptr, false);
}

/// Seconds from the first retraining trigger to the first promotion in the demo's decision
/// history; -1 when either is missing.
double trigger_to_promotion(const nlohmann::json& history) {
  double trigger = -1, promoted = -1;
  if (history.is_array())
    for (const auto& d : history) {
      const auto what = d.value("decision", std::string{});
      if (what == "trigger" && trigger < 0)
        trigger = d.value("time", 0.0);
      if (what == "promoted" && promoted < 0)
        promoted = d.value("time", 0.0);
    }
  return trigger >= 0 && promoted >= 0 ? promoted - trigger : -1.0;
}

/// The probe accuracy of the first and the last served version (0 where the traffic has none).
/// Not const: operator[] adds a null "probe_accuracy" when it is missing, and the traffic is
/// written to the JSON afterwards as it always was.
std::pair<double, double> probe_accuracy(nlohmann::json& traffic) {
  double before = 0, after = 0;
  const auto probe = traffic["probe_accuracy"];
  const auto first = std::to_string(traffic.value("first_version", 0));
  const auto last = std::to_string(traffic.value("last_version", 0));
  if (probe.contains(first))
    before = probe[first].value("accuracy", 0.0);
  if (probe.contains(last))
    after = probe[last].value("accuracy", 0.0);
  return {before, after};
}

/// The main job scaled down: its time from trigger to promotion and the accuracy it bought.
void run_demo(const loop_options& opts, nlohmann::json& out) {
  const auto demo_out =
      fs::temp_directory_path() / ("llmos-loop-demo-" + std::to_string(::getpid()));
  std::printf("\nthe main job (tools/demo/demo.sh, %s) ...\n", demo_out.c_str());
  std::fflush(stdout);
  const auto started = clock_type::now();
  int rc = 0;
  // The spam loop only: the GPT stage has no figure in this benchmark.
  command_output("LLMOS_DEMO_GPT=0 " + opts.demo_script + " " + opts.bin_dir + " " +
                     demo_out.string() + " >&2",
                 &rc);
  out["demo_seconds"] = std::chrono::duration<double>(clock_type::now() - started).count();
  auto traffic = read_json(demo_out / "traffic.json");
  auto history = read_json(demo_out / "history.json");
  out["trigger_to_promotion_s"] = trigger_to_promotion(history);
  double before = 0, after = 0;
  if (traffic.is_object()) {
    std::tie(before, after) = probe_accuracy(traffic);
    out["traffic"] = traffic;
  }
  out["accuracy_before"] = before;
  out["accuracy_after"] = after;
  out["demo_exit"] = rc;
  std::printf("trigger to promotion %.1f s; probe accuracy on 2003 mail %.3f -> %.3f\n",
              out["trigger_to_promotion_s"].get<double>(), before, after);
  std::printf("the run's report: %s/report.md\n", demo_out.c_str());
}

} // namespace

int run_loop(const loop_options& opts) {
  const fs::path dir =
      fs::temp_directory_path() / ("llmos-loop-bench-" + std::to_string(::getpid()));
  nlohmann::json out;
  measure_ingest(opts, dir, out);
  fs::remove_all(dir);
  print_ingest(out);
  if (!opts.demo_script.empty())
    run_demo(opts, out);
  if (!opts.json_path.empty())
    std::ofstream{opts.json_path} << out.dump(2) << "\n";
  return 0;
}

} // namespace llmos::bench
