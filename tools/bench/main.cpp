// llmos-bench NAME [--json FILE]: benchmarks that run ours side by side with the raw library and
// a peer in one run and print ratios. Benchmarks: messaging, data, training, serving,
// scheduler, tuner, loop, llm, llm-serving.
#include <cstdlib>
#include <filesystem>
#include <iostream>

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

int main(int argc, char** argv) {
  llmos::bench::messaging_options opts;
  llmos::bench::data_options data_opts;
  std::string name;
  std::string arg;
  double seconds = 3.0;
  std::string serving_model;
  uint32_t threads = 1;
  double rpc_rate = 0;
  int rpc_nice = -1;
  double rpc_busy_rate = -1;
  po::options_description desc{
      "usage: llmos-bench NAME [options]   (NAME: messaging, data, "
      "training, serving, scheduler, tuner, loop, llm, llm-serving, hardening)"};
  desc.add_options()("help,h", "show this help")("json", po::value(&opts.json_path),
                                                 "write the results as a flat JSON object")(
      "n", po::value(&opts.n)->default_value(20000), "requests per measurement")(
      "window", po::value(&opts.window)->default_value(64),
      "requests in flight (throughput)")("no-erlang", "skip the Erlang peer")(
      "caf", po::value(&opts.caf_args),
      "a CAF option for every process, e.g. --caf=--scheduler.policy=sharing (repeatable)")(
      "seconds", po::value(&seconds)->default_value(3.0),
      "seconds per measurement (serving, hardening)")("no-wrk", "skip wrk (serving)")(
      "model", po::value(&serving_model)->default_value("bag"),
      "served classifier: bag, bilstm or transformer (serving)")("task", po::value<std::string>(),
                                                                 "spam or quotes (tuner)")(
      "no-demo", "feedback ingest only, without the main job (loop)")(
      "sample", po::value(&data_opts.sample)->default_value(1500),
      "e-mails in the recall/precision sample (data)")(
      "no-python", "skip the Python peer (data, training, scheduler, loop, llm)")(
      "threads", po::value(&threads)->default_value(1),
      "threads of every engine, ours and the peers' (llm)")(
      "no-llamacpp", "skip the llama.cpp peer (llm, llm-serving)")(
      "rpc-rate", po::value(&rpc_rate)->default_value(0),
      "the flooded node's --rpc-rate, calls/s per connection (hardening)")(
      "rpc-nice", po::value(&rpc_nice)->default_value(-1),
      "the flooded node's --rpc-nice (hardening; -1: llmos-node's default)")(
      "rpc-busy-rate", po::value(&rpc_busy_rate)->default_value(-1),
      "the flooded node's --rpc-busy-rate (hardening; -1: llmos-node's default)")(
      "name", po::value(&name), "benchmark")("arg", po::value(&arg),
                                             "argument of an internal mode");
  po::positional_options_description pos;
  pos.add("name", 1).add("arg", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "llmos-bench: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help") || name.empty()) {
    std::cout << desc << "\n";
    return name.empty() && !vm.count("help") ? 2 : 0;
  }
  if (name == "serve-caf") // internal: the raw CAF peer process
    return llmos::bench::serve_raw_caf(static_cast<uint16_t>(std::stoi(arg)), opts.caf_args);
  if (name == "data") {
    data_opts.json_path = opts.json_path;
    if (!vm.count("no-python"))
      data_opts.python_script = LLMOS_SOURCE_DIR "/tools/bench/data_peer.py";
    return llmos::bench::run_data(data_opts);
  }
  if (name == "serving") {
    llmos::bench::serving_options s;
    s.json_path = opts.json_path;
    s.node_path =
        (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "llmos-node").string();
    s.seconds = seconds;
    s.wrk = !vm.count("no-wrk");
    s.model = serving_model;
    if (s.model != "bag" && s.model != "bilstm" && s.model != "transformer") {
      std::cerr << "llmos-bench: --model must be bag, bilstm or transformer\n";
      return 2;
    }
    return llmos::bench::run_serving(s);
  }
  if (name == "scheduler") {
    llmos::bench::scheduler_options s;
    s.json_path = opts.json_path;
    if (!vm.count("no-python"))
      s.python_script = LLMOS_SOURCE_DIR "/tools/bench/scheduler_peer.py";
    return llmos::bench::run_scheduler(s);
  }
  if (name == "tuner") {
    llmos::bench::tuner_options t;
    t.json_path = opts.json_path;
    t.task = vm.count("task") ? vm["task"].as<std::string>() : "spam";
    if (t.task != "spam" && t.task != "quotes") {
      std::cerr << "llmos-bench: --task must be spam or quotes\n";
      return 2;
    }
    t.node_path =
        (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "llmos-node").string();
    return llmos::bench::run_tuner(t);
  }
  if (name == "loop") {
    llmos::bench::loop_options l;
    l.json_path = opts.json_path;
    l.bin_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
    if (!vm.count("no-python"))
      l.python_script = LLMOS_SOURCE_DIR "/tools/bench/loop_peer.py";
    if (!vm.count("no-demo"))
      l.demo_script = LLMOS_SOURCE_DIR "/tools/demo/demo.sh";
    return llmos::bench::run_loop(l);
  }
  if (name == "llm") {
    llmos::bench::llm_options l;
    l.json_path = opts.json_path;
    if (threads == 0) {
      std::cerr << "llmos-bench: --threads must be positive\n";
      return 2;
    }
    l.threads = threads;
    const char* models = std::getenv("LLMOS_MODELS_DIR");
    l.models_dir = models && *models ? models : LLMOS_SOURCE_DIR "/.cache/data/models";
    if (!vm.count("no-python"))
      l.python_script = LLMOS_SOURCE_DIR "/tools/bench/llm_peer.py";
    if (!vm.count("no-llamacpp"))
      l.node_script = LLMOS_SOURCE_DIR "/tools/bench/llm_peer.mjs";
    l.npm_prefix = LLMOS_SOURCE_DIR "/.cache/npm/llm-peer";
    return llmos::bench::run_llm(l);
  }
  if (name == "llm-serving") {
    llmos::bench::llm_serving_options l;
    l.json_path = opts.json_path;
    const char* models = std::getenv("LLMOS_MODELS_DIR");
    l.models_dir = models && *models ? models : LLMOS_SOURCE_DIR "/.cache/data/models";
    l.node_path =
        (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "llmos-node").string();
    if (!vm.count("no-llamacpp"))
      l.peer_script = LLMOS_SOURCE_DIR "/tools/bench/llm_serving_peer.mjs";
    l.npm_prefix = LLMOS_SOURCE_DIR "/.cache/npm/llm-peer";
    l.text_dir = LLMOS_SOURCE_DIR "/.cache/data/fortunes/usr/share/games/fortunes";
    return llmos::bench::run_llm_serving(l);
  }
  if (name == "hardening") {
    llmos::bench::hardening_options h;
    h.json_path = opts.json_path;
    h.seconds = seconds;
    h.rpc_rate = rpc_rate;
    h.rpc_nice = rpc_nice;
    h.rpc_busy_rate = rpc_busy_rate;
    h.node_path =
        (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "llmos-node").string();
    h.fuzz_summary = LLMOS_SOURCE_DIR "/build-fuzz/fuzz-summary.json";
    return llmos::bench::run_hardening(h);
  }
  if (name == "training") {
    llmos::bench::training_options t;
    t.json_path = opts.json_path;
    if (!vm.count("no-python"))
      t.python_script = LLMOS_SOURCE_DIR "/tools/bench/training_peer.py";
    return llmos::bench::run_training(t);
  }
  if (name != "messaging") {
    std::cerr << "llmos-bench: unknown benchmark '" << name
              << "' (known: messaging, data, training, serving, scheduler, tuner, loop, llm, "
                 "llm-serving, hardening)\n";
    return 2;
  }
  if (opts.n == 0 || opts.window == 0) {
    std::cerr << "llmos-bench: --n and --window must be positive\n";
    return 2;
  }
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  opts.self_path = self.string();
  opts.node_path = (self.parent_path() / "llmos-node").string();
  if (!vm.count("no-erlang"))
    opts.erlang_script = LLMOS_SOURCE_DIR "/tools/bench/erlang/run.sh";
  return llmos::bench::run_messaging(opts);
}
