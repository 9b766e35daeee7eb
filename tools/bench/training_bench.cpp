#include "training_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "dataset/batch_streams.hpp"
#include "dataset/dataset_view.hpp"
#include "dataset/pipeline_runner.hpp"
#include "dataset/pipeline_spec.hpp"
#include "device/device_actor.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "model/train/engine.hpp"
#include "model/train/gradient_group.hpp"
#include "plain_loop.hpp"
#include "training_compression.hpp"
#include "training_workload.hpp"

namespace llmos::bench {

namespace {

namespace fs = std::filesystem;
using model::engine;
using model::gradient_group;

caf::expected<workload> load_workload(const std::string& name, const std::string& pipeline,
                                      const std::string& spec_file, uint32_t batch, int steps,
                                      const fs::path& dir) {
  auto p = dataset::load_pipeline(pipeline);
  if (!p)
    return p.error();
  p->root = (dir / "store").string();
  p->quarantine = (dir / (name + ".quarantine.jsonl")).string();
  std::cout << "  ingesting " << pipeline << " ..." << std::flush;
  auto result =
      dataset::run_pipeline(*p, [](const std::string&, uint64_t, uint64_t, const std::string&) {});
  if (!result)
    return result.error();
  auto store = dataset::dataset_store::open(p->root, {});
  if (!store)
    return store.error();
  auto view = dataset::dataset_view::load(*store, result->version);
  if (!view)
    return view.error();
  std::cout << " " << result->train << " training records\n";
  auto spec = model::load_model_spec(spec_file);
  if (!spec)
    return spec.error();
  workload w;
  w.name = name;
  w.spec = *spec;
  w.spec.max_steps = steps;
  w.spec.eval_every = 0;
  w.spec.batch_size = batch;
  w.shape = model::shape_from_report(result->report);
  w.labels = model::label_vocab::from_counts(result->labels);
  w.shape.num_classes = static_cast<int64_t>(w.labels.size());
  w.steps = steps;
  dataset::batch_streams streams;
  stream_request req;
  req.batch_size = batch;
  auto id = streams.open(*view, req);
  while (id && static_cast<int>(w.batches.size()) < steps) {
    auto b = streams.next(*view, *id);
    if (!b || b->ids.size() < batch)
      break;
    w.batches.push_back(std::move(*b));
  }
  if (w.batches.empty())
    return make_llmos_error(error_code::bad_config, name + ": no full batches");
  return w;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

/// Untimed steps before a measurement.
int warmup_steps(int steps) {
  return std::max(3, steps / 10);
}

/// Batch `s` of a cycle over `bs` (negative s: the warm-up steps).
const data_batch& batch_at(const std::vector<data_batch>& bs, int s) {
  const int n = static_cast<int>(bs.size());
  return bs[static_cast<std::size_t>(((s % n) + n) % n)];
}

/// Samples per second of `step(batch)`, which returns how many samples it trained, over the
/// workload's steps; untimed warm-up steps first: allocator, thread pool and caches settle.
template <class Step> double samples_per_second(const workload& w, Step step) {
  int64_t samples = 0;
  auto start = std::chrono::steady_clock::now();
  for (int s = -warmup_steps(w.steps); s < w.steps; ++s) {
    if (s == 0)
      start = std::chrono::steady_clock::now();
    const int64_t trained = step(batch_at(w.batches, s));
    if (s >= 0)
      samples += trained;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(samples) / secs;
}

/// Runs fn on the device and waits (what the model actor does per step, minus the waiting).
template <class Fn> void run_on(caf::scoped_actor& self, const device_actor& dev, Fn fn) {
  device_job job;
  job.what = "bench";
  job.run = std::make_shared<std::function<void(const device_info&)>>([fn](const device_info& d) {
    engine::use_threads(d.threads);
    fn();
  });
  self->request(dev, caf::infinite, run_job_atom::value, std::move(job))
      .receive([](double) {}, [](caf::error& err) { std::cerr << describe(err) << "\n"; });
}

/// Ours: one engine on a device actor, every step a job sent from another actor.
double llmos_sps(caf::actor_system& sys, const workload& w) {
  auto dev = spawn_device(sys, *device_core::create("bench-cpu", "cpu", 0, 1));
  caf::scoped_actor self{sys};
  std::shared_ptr<engine> eng;
  run_on(self, dev, [&] { eng = std::move(*engine::create(w.spec, w.shape, w.labels)); });
  const double sps = samples_per_second(w, [&](const data_batch& b) {
    int64_t trained = 0;
    run_on(self, dev, [&] {
      if (eng->train_step(b))
        trained = static_cast<int64_t>(b.ids.size());
    });
    return trained;
  });
  // The cost of the hop itself: empty jobs, sent and answered one at a time.
  const auto hop_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i)
    run_on(self, dev, [] {});
  const double hop_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - hop_start)
          .count() /
      1000.0;
  std::printf("%-10s           device job round trip %.1f us\n", w.name.c_str(), hop_us);
  self->send_exit(dev, caf::exit_reason::user_shutdown);
  return sps;
}

/// The engine alone on this thread: what our actor path costs on top of it, and what the engine
/// costs on top of the plain loop.
double engine_sps(const workload& w) {
  auto eng = std::move(*engine::create(w.spec, w.shape, w.labels));
  return samples_per_second(w, [&](const data_batch& b) {
    return eng->train_step(b) ? static_cast<int64_t>(b.ids.size()) : int64_t{0};
  });
}

/// Two replicas on two device actors, each half of every batch, gradients averaged by Gloo.
double data_parallel_sps(caf::actor_system& sys, const workload& w) {
  auto g0 = gradient_group::open("127.0.0.1", 0, 0, 2);
  auto g1 = gradient_group::open("127.0.0.1", (*g0)->store_port(), 1, 2);
  std::vector<std::shared_ptr<engine>> engines(2);
  std::vector<device_actor> devs;
  caf::scoped_actor self{sys};
  for (int r = 0; r < 2; ++r) {
    devs.push_back(spawn_device(sys, *device_core::create("dp" + std::to_string(r), "cpu", 0, 1)));
    run_on(self, devs[r], [&, r] {
      engines[r] = std::move(*engine::create(w.spec, w.shape, w.labels));
      engines[r]->join(r == 0 ? *g0 : *g1);
    });
  }
  const auto half = w.batches.front().ids.size() / 2;
  const double sps = samples_per_second(w, [&](const data_batch& b) {
    // Both jobs must run at once (the all-reduce waits for both): send, then collect.
    std::vector<data_batch> parts;
    for (int r = 0; r < 2; ++r) {
      data_batch p = b;
      const auto row = b.inputs.data.size() / b.ids.size();
      p.ids.assign(b.ids.begin() + r * half, b.ids.begin() + (r + 1) * half);
      p.labels.assign(b.labels.begin() + r * half, b.labels.begin() + (r + 1) * half);
      p.inputs.shape[0] = static_cast<int64_t>(half);
      p.inputs.data = b.inputs.data.substr(r * half * row, half * row);
      parts.push_back(std::move(p));
    }
    for (int r = 0; r < 2; ++r) {
      device_job job;
      job.what = "dp";
      auto e = engines[r];
      auto part = parts[r];
      job.run = std::make_shared<std::function<void(const device_info&)>>(
          [e, part](const device_info& d) {
            engine::use_threads(d.threads);
            (void)e->train_step(part);
          });
      self->send(devs[r], run_job_atom::value, std::move(job));
    }
    for (int r = 0; r < 2; ++r)
      self->receive([](double) {}, [](caf::error& err) { std::cerr << describe(err) << "\n"; });
    return static_cast<int64_t>(2 * half);
  });
  for (auto& d : devs)
    self->send_exit(d, caf::exit_reason::user_shutdown);
  return sps;
}

/// Writes the batches for the Python peer: a JSON header line, then raw int32 tokens and labels.
void write_batches(const workload& w, const fs::path& file) {
  std::ofstream out(file, std::ios::binary);
  const auto& first = w.batches.front();
  nlohmann::json header{{"batches", w.batches.size()},     {"batch", first.inputs.shape[0]},
                        {"length", first.inputs.shape[1]}, {"vocab", w.shape.vocab_size},
                        {"classes", w.shape.num_classes},  {"pad", w.shape.pad_id}};
  out << header.dump() << "\n";
  for (auto& b : w.batches)
    out.write(b.inputs.data.data(), static_cast<std::streamsize>(b.inputs.data.size()));
  for (auto& b : w.batches)
    for (auto& l : b.labels) {
      int32_t y = static_cast<int32_t>(*w.labels.index(l));
      out.write(reinterpret_cast<const char*>(&y), 4);
    }
}

double python_sps(const training_options& opts, const workload& w, const fs::path& dir) {
  if (opts.python_script.empty())
    return 0.0;
  const auto file = dir / (w.name + ".bin");
  write_batches(w, file);
  const auto& s = w.spec;
  const std::string cmd =
      "/usr/bin/python3 " + opts.python_script + " --file " + file.string() + " --arch " +
      s.architecture + " --steps " + std::to_string(w.steps) + " --embed " +
      std::to_string(s.embed_dim) + " --hidden " + std::to_string(s.hidden_dim) + " --layers " +
      std::to_string(s.layers) + " --heads " + std::to_string(s.heads) + " --ff " +
      std::to_string(s.ff_dim) + " --max-length " + std::to_string(s.max_length) + " --dropout " +
      std::to_string(s.dropout) + " --lr " + std::to_string(s.lr);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe)
    return 0.0;
  char buf[256];
  std::string out;
  while (std::fgets(buf, sizeof buf, pipe))
    out += buf;
  if (::pclose(pipe) != 0) {
    std::cerr << "python peer failed: " << out << "\n";
    return 0.0;
  }
  return std::stod(out);
}

} // namespace

int run_training(const training_options& opts) {
  engine::use_threads(1);
  caf::actor_system_config cfg;
  register_messages(cfg);
  caf::actor_system sys{cfg};
  const auto dir = fs::temp_directory_path() / ("llmos-train-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string root = LLMOS_SOURCE_DIR;
  std::cout << "llmos-bench training (1 torch thread per replica, OpenBLAS 1 thread)\n";
  auto classifier =
      load_workload("classifier", root + "/nodes/examples/pipelines/spam.yaml",
                    root + "/nodes/examples/models/spam-bag.yaml", 32, opts.steps, dir);
  auto gpt = load_workload("gpt", root + "/nodes/examples/pipelines/fortunes.yaml",
                           root + "/nodes/examples/models/fortunes-gpt.yaml", 16, 20, dir);
  if (!classifier || !gpt) {
    std::cerr << "llmos-bench training: "
              << describe(!classifier ? classifier.error() : gpt.error()) << "\n";
    return 1;
  }
  nlohmann::json out;
  for (auto* w : {&*classifier, &*gpt}) {
    // Short runs on a shared 2-core machine are noisy: each figure is the median of `reps`
    // runs, the methods interleaved so that a slow spell hits all of them alike.
    const int reps = w->name == "gpt" ? 1 : 3;
    std::vector<double> ours_v, plain_v, bare_v, py_v, dp_v;
    for (int r = 0; r < reps; ++r) {
      ours_v.push_back(llmos_sps(sys, *w));
      plain_v.push_back(plain_libtorch_sps(w->spec, w->shape, w->labels, w->batches, w->steps));
      bare_v.push_back(engine_sps(*w));
      py_v.push_back(python_sps(opts, *w, dir));
      dp_v.push_back(data_parallel_sps(sys, *w));
    }
    const double ours = median(ours_v), plain = median(plain_v), bare = median(bare_v),
                 py = median(py_v), dp = median(dp_v);
    std::printf("%-10s samples/s  llmos %8.1f  libtorch %8.1f  python %8.1f  | llmos/libtorch "
                "%.2f  llmos/python %.2f  | 2 replicas %8.1f (%.2fx 1 replica)\n",
                w->name.c_str(), ours, plain, py, ours / plain, py > 0 ? ours / py : 0.0, dp,
                dp / ours);
    out[w->name + "_llmos_sps"] = ours;
    out[w->name + "_libtorch_sps"] = plain;
    out[w->name + "_engine_sps"] = bare;
    std::printf("%-10s           engine without actors %8.1f (%.2fx libtorch)\n", w->name.c_str(),
                bare, bare / plain);
    out[w->name + "_python_sps"] = py;
    out[w->name + "_dp2_sps"] = dp;
  }
  compression(*classifier, out);
  fs::remove_all(dir);
  if (!opts.json_path.empty())
    std::ofstream(opts.json_path) << out.dump(2) << "\n";
  return 0;
}

} // namespace llmos::bench
