#include "model/core/collective_backend.hpp"

#include <algorithm>
#include <map>

#include "llmos/messages/error.hpp"

namespace llmos::model {

namespace {

caf::error refused(const std::string& why) {
  return make_llmos_error(error_code::bad_params, "data-parallel group: " + why);
}

/// Why NCCL cannot be given these ranks: the first two on one GPU, or a GPU rank whose GPU is
/// unknown; "" when every GPU rank has its own.
std::string shared_gpu(const std::vector<rank_place>& places) {
  std::map<std::string, std::size_t> first;
  for (std::size_t r = 0; r < places.size(); ++r) {
    if (places[r].type != "cuda")
      continue;
    if (places[r].gpu.empty())
      return "rank " + std::to_string(r) + "'s GPU on " + places[r].host +
             " could not be identified";
    auto [at, fresh] = first.emplace(places[r].gpu, r);
    if (!fresh)
      return "ranks " + std::to_string(at->second) + " and " + std::to_string(r) +
             " are both on GPU " + places[r].gpu + " of " + places[r].host +
             ": NCCL cannot put two ranks on one GPU";
  }
  return {};
}

/// What every rank asked, when they agree.
caf::expected<std::string> agreed_ask(const std::vector<rank_place>& places) {
  const std::string asked = places.empty() ? "auto" : places.front().asked;
  for (std::size_t r = 0; r < places.size(); ++r) {
    if (auto err = check_backend_name(places[r].asked))
      return err;
    if (places[r].asked != asked)
      return refused("rank 0 asked for " + asked + " but rank " + std::to_string(r) + " for " +
                     places[r].asked);
  }
  return asked;
}

} // namespace

caf::error check_backend_name(const std::string& asked) {
  if (asked != "auto" && asked != "nccl" && asked != "gloo")
    return refused("backend '" + asked + "' is unknown (auto, nccl or gloo)");
  return {};
}

std::string rank_place::text() const {
  return type + "|" + gpu + "|" + host + "|" + asked;
}

caf::expected<rank_place> rank_place::parse(const std::string& text) {
  std::vector<std::string> parts(1);
  for (char c : text)
    if (c == '|')
      parts.emplace_back();
    else
      parts.back() += c;
  if (parts.size() != 4)
    return refused("a rank's place '" + text + "' is not type|gpu|host|asked");
  return rank_place{parts[0], parts[1], parts[2], parts[3]};
}

caf::expected<std::string> choose_backend(const std::vector<rank_place>& places,
                                          collective_libraries built) {
  auto asked = agreed_ask(places);
  if (!asked)
    return std::move(asked.error());
  if (*asked == "gloo")
    return std::string{"gloo"};
  const auto cpu = std::find_if(places.begin(), places.end(),
                                [](const rank_place& p) { return p.type != "cuda"; });
  if (*asked == "nccl" && !built.nccl)
    return refused("nccl was asked for, but this build of llmos has no NCCL");
  if (*asked == "nccl" && cpu != places.end())
    return refused("nccl was asked for, but rank " + std::to_string(cpu - places.begin()) +
                   " computes on " + cpu->type + " (NCCL averages GPU memory only)");
  if (*asked == "auto" && (cpu != places.end() || !built.nccl))
    return std::string{"gloo"};
  const auto why = shared_gpu(places);
  if (why.empty())
    return std::string{"nccl"};
  if (*asked == "nccl")
    return refused(why + "; give each rank a GPU of its own, or average over gloo");
  if (built.gloo)
    return std::string{"gloo"}; // through host memory, as NCCL cannot
  return refused(why + ", and this LibTorch has no Gloo to average through host memory instead; "
                       "give each rank a GPU of its own");
}

} // namespace llmos::model
