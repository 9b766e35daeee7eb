#include "scheduler/core/trace.hpp"

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "llmos/messages/error.hpp"

namespace llmos::scheduler {

std::vector<sim_job> synthetic_trace(std::size_t jobs, const sim_cluster_spec& cluster, double load,
                                     uint64_t seed, double max_work_s) {
  std::mt19937_64 rng{seed};
  std::uniform_real_distribution<double> u{0.0, 1.0};
  // Run times: log-normal around 10 minutes with a long tail (training jobs), cut at max_work_s.
  std::lognormal_distribution<double> work{std::log(600.0), 1.2};
  const char* owners[] = {"research", "product", "batch", "interns"};
  const double owner_p[] = {0.4, 0.3, 0.2, 0.1};
  std::vector<sim_job> out;
  out.reserve(jobs);
  double mean_demand = 0; // thread-seconds per job, to pace arrivals at the offered load
  for (std::size_t i = 0; i < jobs; ++i) {
    sim_job j;
    j.work_s = std::min(max_work_s, std::max(10.0, work(rng)));
    const double shape = u(rng);
    j.replicas = shape < 0.8 ? 1 : shape < 0.9 ? 2 : shape < 0.97 ? 4 : 8;
    const double kind = u(rng);
    if (cluster.gpu_node_every > 0 && kind < 0.3) {
      j.per_replica.gpus = u(rng) < 0.7 ? 1 : 2;
      j.per_replica.gpu_memory_mb = u(rng) < 0.5 ? cluster.gpu_memory_mb / 2 : 0;
      j.per_replica.cpu_threads = 4;
    } else {
      j.per_replica.cpu_threads = 1u << static_cast<unsigned>(u(rng) * 4); // 1, 2, 4, 8
    }
    j.per_replica.cpu_threads = std::min(j.per_replica.cpu_threads, cluster.cpu_per_node);
    const double p = u(rng);
    j.priority = p < 0.7 ? 0 : p < 0.95 ? 5 : 10;
    double acc = 0, pick = u(rng);
    for (std::size_t o = 0; o < 4; ++o) {
      acc += owner_p[o];
      if (pick <= acc || o == 3) {
        j.owner = owners[o];
        break;
      }
    }
    mean_demand += j.work_s * j.replicas * j.per_replica.cpu_threads;
    out.push_back(std::move(j));
  }
  mean_demand /= std::max<std::size_t>(1, jobs);
  const double capacity = static_cast<double>(cluster.nodes) * cluster.cpu_per_node;
  const double rate = std::max(1e-9, load) * capacity / std::max(1e-9, mean_demand); // jobs/s
  std::exponential_distribution<double> gap{rate};
  double t = 0;
  for (auto& j : out) {
    j.arrival = t;
    t += gap(rng);
  }
  return out;
}

caf::expected<std::vector<sim_job>> load_trace_csv(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return make_llmos_error(error_code::io_failed, "cannot read trace " + path);
  std::vector<sim_job> out;
  std::string line;
  int no = 0;
  const char* fields[] = {"arrival", "work_s",        "replicas", "cpu_threads",
                          "gpus",    "gpu_memory_mb", "priority", "owner"};
  while (std::getline(in, line)) {
    ++no;
    if (line.empty() || line[0] == '#' || (no == 1 && line.rfind("arrival", 0) == 0))
      continue;
    std::vector<std::string> cols;
    std::stringstream ss{line};
    for (std::string c; std::getline(ss, c, ',');)
      cols.push_back(c);
    if (cols.size() != 8)
      return make_llmos_error(error_code::bad_config,
                              path + ":" + std::to_string(no) + ": expected 8 fields (" +
                                  "arrival,work_s,replicas,cpu_threads,gpus,gpu_memory_mb," +
                                  "priority,owner), got " + std::to_string(cols.size()));
    sim_job j;
    std::size_t f = 0;
    try {
      j.arrival = std::stod(cols[f]);
      j.work_s = std::stod(cols[++f]);
      j.replicas = static_cast<uint32_t>(std::stoul(cols[++f]));
      j.per_replica.cpu_threads = static_cast<uint32_t>(std::stoul(cols[++f]));
      j.per_replica.gpus = static_cast<uint32_t>(std::stoul(cols[++f]));
      j.per_replica.gpu_memory_mb = std::stoull(cols[++f]);
      j.priority = std::stoi(cols[++f]);
    } catch (const std::exception&) {
      return make_llmos_error(error_code::bad_config, path + ":" + std::to_string(no) +
                                                          ": field '" + fields[f] +
                                                          "' is not a number: '" + cols[f] + "'");
    }
    j.owner = cols[7];
    out.push_back(std::move(j));
  }
  return out;
}

} // namespace llmos::scheduler
