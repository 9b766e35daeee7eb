#include "scheduler/core/policy.hpp"

#include <algorithm>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"
#include "scheduler/core/fair_share_policy.hpp"
#include "scheduler/core/fifo_policy.hpp"
#include "scheduler/core/least_loaded_policy.hpp"
#include "scheduler/core/priority_policy.hpp"
#include "scheduler/core/round_robin_policy.hpp"

namespace llmos::scheduler {

const std::vector<std::string>& policy_names() {
  static const std::vector<std::string> names{"fifo", "round-robin", "least-loaded", "priority",
                                              "fair-share"};
  return names;
}

caf::expected<std::unique_ptr<policy>> make_policy(const policy_options& options) {
  const auto& p = options.policy;
  if (p == "fifo")
    return std::unique_ptr<policy>(new fifo_policy());
  if (p == "round-robin")
    return std::unique_ptr<policy>(new round_robin_policy());
  if (p == "least-loaded")
    return std::unique_ptr<policy>(new least_loaded_policy());
  if (p == "priority")
    return std::unique_ptr<policy>(new priority_policy(options));
  if (p == "fair-share")
    return std::unique_ptr<policy>(new fair_share_policy(options));
  auto near = closest_match(p, policy_names());
  return make_llmos_error(error_code::bad_config,
                          "scheduler policy '" + p + "' is unknown" +
                              (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                              "; known: " + join_words(policy_names()));
}

void sort_fifo(std::vector<queue_entry>& queue) {
  std::sort(queue.begin(), queue.end(), [](const queue_entry& a, const queue_entry& b) {
    return a.submitted != b.submitted ? a.submitted < b.submitted : a.id < b.id;
  });
}

double dominant_share(const task_request& req, double cpu_total, double gpu_total) {
  const double n = req.replicas;
  const double cpu = cpu_total > 0 ? n * req.per_replica.cpu_threads / cpu_total : 0;
  const double gpu = gpu_total > 0 ? n * req.per_replica.gpus / gpu_total : 0;
  return std::max(cpu, gpu);
}

} // namespace llmos::scheduler
