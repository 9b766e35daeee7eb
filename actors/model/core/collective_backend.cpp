#include "model/core/collective_backend.hpp"

#include <algorithm>
#include <map>

#include "llmos/messages/error.hpp"

namespace llmos::model {

namespace {

caf::error refused(const std::string& why) {
  return make_llmos_error(error_code::bad_params, "data-parallel group: " + why);
}

/// The first two ranks on one GPU, as a refusal; none when every GPU rank has its own.
caf::error shared_gpu(const std::vector<rank_place>& places) {
  std::map<std::string, std::size_t> first;
  for (std::size_t r = 0; r < places.size(); ++r) {
    if (places[r].type != "cuda")
      continue;
    auto [at, fresh] = first.emplace(places[r].gpu, r);
    if (!fresh)
      return refused("ranks " + std::to_string(at->second) + " and " + std::to_string(r) +
                     " are both on GPU " + places[r].gpu + " of " + places[r].host +
                     ": NCCL cannot put two ranks on one GPU; give each rank a GPU of its own, "
                     "or average over gloo");
  }
  return {};
}

} // namespace

std::string rank_place::text() const {
  return type + "|" + gpu + "|" + host;
}

caf::expected<rank_place> rank_place::parse(const std::string& text) {
  const auto a = text.find('|');
  const auto b = a == std::string::npos ? a : text.find('|', a + 1);
  if (b == std::string::npos)
    return refused("a rank's place '" + text + "' is not type|gpu|host");
  return rank_place{text.substr(0, a), text.substr(a + 1, b - a - 1), text.substr(b + 1)};
}

caf::expected<std::string> choose_backend(const std::vector<rank_place>& places,
                                          const std::string& asked, bool nccl_built) {
  if (asked != "auto" && asked != "nccl" && asked != "gloo")
    return refused("backend '" + asked + "' is unknown (auto, nccl or gloo)");
  if (asked == "gloo")
    return std::string{"gloo"};
  const auto cpu = std::find_if(places.begin(), places.end(),
                                [](const rank_place& p) { return p.type != "cuda"; });
  if (asked == "auto" && (cpu != places.end() || !nccl_built))
    return std::string{"gloo"};
  if (!nccl_built)
    return refused("nccl was asked for, but this build of llmos has no NCCL");
  if (cpu != places.end())
    return refused("nccl was asked for, but rank " + std::to_string(cpu - places.begin()) +
                   " computes on " + cpu->type + " (NCCL averages GPU memory only)");
  if (auto err = shared_gpu(places))
    return err;
  return std::string{"nccl"};
}

} // namespace llmos::model
