// llmos-bench NAME [--json FILE]: benchmarks that run ours side by side with the raw library and
// a peer in one run and print ratios. Benchmarks: messaging, data, training, serving,
// scheduler, tuner, loop, llm, llm-serving.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <string_view>
#include <utility>

#include <boost/program_options.hpp>

#include "data_bench.hpp"
#include "hardening_bench.hpp"
#include "llm_bench.hpp"
#include "llm_serving_bench.hpp"
#include "loop_bench.hpp"
#include "messaging.hpp"
#include "scheduler_bench.hpp"
#include "serving_bench.hpp"
#include "training_bench.hpp"
#include "tuner_bench.hpp"

namespace po = boost::program_options;
namespace bench = llmos::bench;

namespace {

/// Everything the command line sets; each sub-command fills its benchmark's options from it.
struct command_line {
  bench::messaging_options messaging; ///< also holds --json and --caf, which every benchmark reads
  bench::data_options data;
  std::string name;
  std::string arg;
  double seconds = 3.0;
  std::string serving_model;
  uint32_t threads = 1;
  double rpc_rate = 0;
  int rpc_nice = -1;
  double rpc_busy_rate = -1;
  po::variables_map vm;

  bool has(const char* flag) const { return vm.count(flag) != 0; }
  /// tools/bench/`script`, the peer the benchmark runs, or "" when `skip_flag` was given.
  std::string peer(const char* skip_flag, const char* script) const {
    return has(skip_flag) ? "" : LLMOS_SOURCE_DIR "/tools/bench/" + std::string{script};
  }
};

void add_options(po::options_description& desc, command_line& cl) {
  auto add = desc.add_options();
  add("help,h", "show this help");
  add("json", po::value(&cl.messaging.json_path), "write the results as a flat JSON object");
  add("n", po::value(&cl.messaging.n)->default_value(20000), "requests per measurement");
  add("window", po::value(&cl.messaging.window)->default_value(64),
      "requests in flight (throughput)");
  add("no-erlang", "skip the Erlang peer");
  add("caf", po::value(&cl.messaging.caf_args),
      "a CAF option for every process, e.g. --caf=--scheduler.policy=sharing (repeatable)");
  add("seconds", po::value(&cl.seconds)->default_value(3.0),
      "seconds per measurement (serving, hardening)");
  add("no-wrk", "skip wrk (serving)");
  add("model", po::value(&cl.serving_model)->default_value("bag"),
      "served classifier: bag, bilstm or transformer (serving)");
  add("task", po::value<std::string>(), "spam or quotes (tuner)");
  add("no-demo", "feedback ingest only, without the main job (loop)");
  add("sample", po::value(&cl.data.sample)->default_value(1500),
      "e-mails in the recall/precision sample (data)");
  add("no-python", "skip the Python peer (data, training, scheduler, loop, llm)");
  add("threads", po::value(&cl.threads)->default_value(1),
      "threads of every engine, ours and the peers' (llm)");
  add("no-llamacpp", "skip the llama.cpp peer (llm, llm-serving)");
  add("rpc-rate", po::value(&cl.rpc_rate)->default_value(0),
      "the flooded node's --rpc-rate, calls/s per connection (hardening)");
  add("rpc-nice", po::value(&cl.rpc_nice)->default_value(-1),
      "the flooded node's --rpc-nice (hardening; -1: llmos-node's default)");
  add("rpc-busy-rate", po::value(&cl.rpc_busy_rate)->default_value(-1),
      "the flooded node's --rpc-busy-rate (hardening; -1: llmos-node's default)");
  add("name", po::value(&cl.name), "benchmark");
  add("arg", po::value(&cl.arg), "argument of an internal mode");
}

bool parse_command_line(int argc, char** argv, const po::options_description& desc,
                        command_line& cl) {
  po::positional_options_description pos;
  pos.add("name", 1).add("arg", 1);
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), cl.vm);
    po::notify(cl.vm);
  } catch (const po::error& e) {
    std::cerr << "llmos-bench: " << e.what() << "\n";
    return false;
  }
  return true;
}

std::filesystem::path self_path() {
  return std::filesystem::read_symlink("/proc/self/exe");
}

/// llmos-node beside this program.
std::string node_path() {
  return (self_path().parent_path() / "llmos-node").string();
}

/// $LLMOS_MODELS_DIR, or the models the setup script downloads.
std::string models_dir() {
  const char* models = std::getenv("LLMOS_MODELS_DIR");
  return models && *models ? models : LLMOS_SOURCE_DIR "/.cache/data/models";
}

/// Whether `value`, given as --`flag`, is one of `choices`; says which they are when it is not.
bool one_of(const char* flag, const std::string& value,
            std::initializer_list<std::string_view> choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end())
    return true;
  std::cerr << "llmos-bench: --" << flag << " must be ";
  std::size_t i = 0;
  for (auto c : choices)
    std::cerr << (i++ == 0 ? "" : i == choices.size() ? " or " : ", ") << c;
  std::cerr << "\n";
  return false;
}

// internal: the raw CAF peer process
int serve_caf_command(command_line& cl) {
  return bench::serve_raw_caf(static_cast<uint16_t>(std::stoi(cl.arg)), cl.messaging.caf_args);
}

/// Runs a benchmark on the options the command line parsed into `opts` (such as the data
/// benchmark's --sample), plus --json and tools/bench/`script` as its Python peer (none with
/// --no-python).
template <class Options>
int with_python_peer(command_line& cl, Options& opts, const char* script,
                     int (*run)(const Options&)) {
  opts.json_path = cl.messaging.json_path;
  opts.python_script = cl.peer("no-python", script);
  return run(opts);
}

int data_command(command_line& cl) {
  return with_python_peer(cl, cl.data, "data_peer.py", bench::run_data);
}

int serving_command(command_line& cl) {
  bench::serving_options s;
  s.json_path = cl.messaging.json_path;
  s.node_path = node_path();
  s.seconds = cl.seconds;
  s.wrk = !cl.has("no-wrk");
  s.model = cl.serving_model;
  if (!one_of("model", s.model, {"bag", "bilstm", "transformer"}))
    return 2;
  return bench::run_serving(s);
}

int scheduler_command(command_line& cl) {
  bench::scheduler_options s;
  return with_python_peer(cl, s, "scheduler_peer.py", bench::run_scheduler);
}

int tuner_command(command_line& cl) {
  bench::tuner_options t;
  t.json_path = cl.messaging.json_path;
  t.task = cl.has("task") ? cl.vm["task"].as<std::string>() : "spam";
  if (!one_of("task", t.task, {"spam", "quotes"}))
    return 2;
  t.node_path = node_path();
  return bench::run_tuner(t);
}

int loop_command(command_line& cl) {
  bench::loop_options l;
  l.json_path = cl.messaging.json_path;
  l.bin_dir = self_path().parent_path().string();
  l.python_script = cl.peer("no-python", "loop_peer.py");
  if (!cl.has("no-demo"))
    l.demo_script = LLMOS_SOURCE_DIR "/tools/demo/demo.sh";
  return bench::run_loop(l);
}

int llm_command(command_line& cl) {
  bench::llm_options l;
  l.json_path = cl.messaging.json_path;
  if (cl.threads == 0) {
    std::cerr << "llmos-bench: --threads must be positive\n";
    return 2;
  }
  l.threads = cl.threads;
  l.models_dir = models_dir();
  l.python_script = cl.peer("no-python", "llm_peer.py");
  l.node_script = cl.peer("no-llamacpp", "llm_peer.mjs");
  l.npm_prefix = LLMOS_SOURCE_DIR "/.cache/npm/llm-peer";
  return bench::run_llm(l);
}

int llm_serving_command(command_line& cl) {
  bench::llm_serving_options l;
  l.json_path = cl.messaging.json_path;
  l.models_dir = models_dir();
  l.node_path = node_path();
  l.peer_script = cl.peer("no-llamacpp", "llm_serving_peer.mjs");
  l.npm_prefix = LLMOS_SOURCE_DIR "/.cache/npm/llm-peer";
  l.text_dir = LLMOS_SOURCE_DIR "/.cache/data/fortunes/usr/share/games/fortunes";
  return bench::run_llm_serving(l);
}

int hardening_command(command_line& cl) {
  bench::hardening_options h;
  h.json_path = cl.messaging.json_path;
  h.seconds = cl.seconds;
  h.rpc_rate = cl.rpc_rate;
  h.rpc_nice = cl.rpc_nice;
  h.rpc_busy_rate = cl.rpc_busy_rate;
  h.node_path = node_path();
  h.fuzz_summary = LLMOS_SOURCE_DIR "/build-fuzz/fuzz-summary.json";
  return bench::run_hardening(h);
}

int training_command(command_line& cl) {
  bench::training_options t;
  return with_python_peer(cl, t, "training_peer.py", bench::run_training);
}

int messaging_command(command_line& cl) {
  auto& opts = cl.messaging;
  if (opts.n == 0 || opts.window == 0) {
    std::cerr << "llmos-bench: --n and --window must be positive\n";
    return 2;
  }
  opts.self_path = self_path().string();
  opts.node_path = node_path();
  opts.erlang_script = cl.peer("no-erlang", "erlang/run.sh");
  return bench::run_messaging(opts);
}

using command_fn = int (*)(command_line&);

/// The sub-commands by NAME (serve-caf is internal: messaging starts it as its raw CAF peer).
constexpr std::pair<std::string_view, command_fn> commands[] = {
    {"serve-caf", serve_caf_command},
    {"data", data_command},
    {"serving", serving_command},
    {"scheduler", scheduler_command},
    {"tuner", tuner_command},
    {"loop", loop_command},
    {"llm", llm_command},
    {"llm-serving", llm_serving_command},
    {"hardening", hardening_command},
    {"training", training_command},
    {"messaging", messaging_command}};

} // namespace

int main(int argc, char** argv) {
  command_line cl;
  po::options_description desc{
      "usage: llmos-bench NAME [options]   (NAME: messaging, data, "
      "training, serving, scheduler, tuner, loop, llm, llm-serving, hardening)"};
  add_options(desc, cl);
  if (!parse_command_line(argc, argv, desc, cl))
    return 2;
  if (cl.has("help") || cl.name.empty()) {
    std::cout << desc << "\n";
    return cl.name.empty() && !cl.has("help") ? 2 : 0;
  }
  for (const auto& [name, run] : commands)
    if (cl.name == name)
      return run(cl);
  std::cerr << "llmos-bench: unknown benchmark '" << cl.name
            << "' (known: messaging, data, training, serving, scheduler, tuner, loop, llm, "
               "llm-serving, hardening)\n";
  return 2;
}
