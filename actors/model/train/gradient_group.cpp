#include "model/train/gradient_group.hpp"

#include <chrono>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

// Debian's LibTorch builds on libgloo-dev's headers; pip's LibTorch ships c10d without Gloo's
// headers, so there a group that chose Gloo refuses to connect, saying why.
#if __has_include(<gloo/algorithm.h>)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define LLMOS_HAS_GLOO 1
#endif

#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/nccl_group.hpp"
#include "llmos/messages/error.hpp"
#include "model/core/collective_backend.hpp"

namespace llmos::model {

struct gradient_group::impl {
  std::string bind_host;
  std::string asked = "auto";
  std::string backend; ///< chosen by connect
  uint32_t rank = 0;
  uint32_t world = 1;
  std::chrono::milliseconds timeout{30000};
  c10::intrusive_ptr<c10d::TCPStore> store;
#ifdef LLMOS_HAS_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
  std::unique_ptr<kernels::nccl_group> nccl;

  /// Where every rank computes, this one's `here` included (read from the store).
  caf::expected<std::vector<rank_place>> places(const rank_place& here);
  caf::error connect_gloo();
  caf::error connect_nccl(int cuda_index);
};

namespace {

caf::error failed(const std::string& what, const std::string& why) {
  return make_llmos_error(error_code::kernel_failed, "data-parallel group: " + what + ": " + why);
}

std::vector<uint8_t> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? std::string{name} : std::string{"?"};
}

} // namespace

gradient_group::gradient_group(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
gradient_group::~gradient_group() = default;

caf::expected<std::shared_ptr<gradient_group>>
gradient_group::open(const std::string& store_host, uint16_t port, uint32_t rank, uint32_t world,
                     const std::string& bind_host, uint32_t timeout_ms,
                     const std::string& backend) {
  if (world == 0 || rank >= world)
    return make_llmos_error(error_code::bad_params, "data-parallel group: rank " +
                                                        std::to_string(rank) + " of world " +
                                                        std::to_string(world));
  if (auto err = check_backend_name(backend))
    return err;
  auto p = std::make_unique<impl>();
  p->bind_host = bind_host;
  p->asked = backend;
  p->rank = rank;
  p->world = world;
  p->timeout = std::chrono::milliseconds(timeout_ms);
  try {
    c10d::TCPStoreOptions opts;
    opts.port = port;
    opts.isServer = rank == 0;
    opts.waitWorkers = false; // rank 0 must first tell the others where it is
    opts.timeout = p->timeout;
    p->store = c10::make_intrusive<c10d::TCPStore>(store_host, opts);
  } catch (const std::exception& e) {
    return failed("store at " + store_host + ":" + std::to_string(port), e.what());
  }
  return std::shared_ptr<gradient_group>(new gradient_group(std::move(p)));
}

uint16_t gradient_group::store_port() const {
  return impl_->store->getPort();
}

caf::expected<std::vector<rank_place>> gradient_group::impl::places(const rank_place& here) {
  std::vector<rank_place> all;
  try {
    store->set("llmos/place/" + std::to_string(rank), bytes(here.text()));
    for (uint32_t r = 0; r < world; ++r) {
      const auto got = store->get("llmos/place/" + std::to_string(r)); // waits for rank r
      auto place = rank_place::parse(std::string(got.begin(), got.end()));
      if (!place)
        return std::move(place.error());
      all.push_back(std::move(*place));
    }
  } catch (const std::exception& e) {
    return failed("telling where the ranks compute", e.what());
  }
  return all;
}

caf::error gradient_group::connect(const std::string& device_type, int cuda_index) {
  auto& s = *impl_;
  if (!s.backend.empty())
    return {};
  const bool gpu = device_type == "cuda";
  auto all = s.places(
      {device_type, gpu ? kernels::cuda_device_uuid(cuda_index) : "", host_name(), s.asked});
  if (!all)
    return std::move(all.error());
  collective_libraries built;
  built.nccl = kernels::cuda_compiled() && !kernels::nccl_version().empty();
#ifdef LLMOS_HAS_GLOO
  built.gloo = true;
#endif
  auto chosen = choose_backend(*all, built);
  if (!chosen)
    return std::move(chosen.error());
  auto err = *chosen == "nccl" ? s.connect_nccl(cuda_index) : s.connect_gloo();
  if (!err)
    s.backend = *chosen;
  return err;
}

caf::error gradient_group::impl::connect_nccl(int cuda_index) {
  const std::string where = "rank " + std::to_string(rank) + " of " + std::to_string(world);
  std::string id;
  try {
    if (rank == 0) {
      if (auto err = kernels::nccl_group::make_id(&id); !err.empty())
        return failed("NCCL id", err);
      store->set("llmos/nccl_id", bytes(id));
    } else {
      const auto got = store->get("llmos/nccl_id");
      id.assign(got.begin(), got.end());
    }
  } catch (const std::exception& e) {
    return failed("passing NCCL's id", e.what());
  }
  if (auto err =
          kernels::nccl_group::join(cuda_index, static_cast<int>(rank), static_cast<int>(world), id,
                                    static_cast<uint32_t>(timeout.count()), &nccl);
      !err.empty())
    return failed("joining NCCL as " + where + " on cuda:" + std::to_string(cuda_index), err);
  return {};
}

caf::error gradient_group::impl::connect_gloo() {
#ifndef LLMOS_HAS_GLOO
  return make_llmos_error(error_code::kernel_failed,
                          "data-parallel group: this build's LibTorch ships no Gloo headers "
                          "(pip's does not), so gradients cannot be averaged over Gloo");
#else
  try {
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(bind_host));
    opts->threads = 1; // the device actor owns the cores; Gloo only moves bytes
    gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(rank),
                                                       static_cast<int>(world), opts);
  } catch (const std::exception& e) {
    return failed("connecting rank " + std::to_string(rank) + " of " + std::to_string(world),
                  e.what());
  }
  return {};
#endif
}

caf::error gradient_group::average(float* data, std::size_t n) {
  auto& s = *impl_;
  if (s.backend.empty())
    if (auto err = connect())
      return err;
  if (s.nccl) {
    if (auto err =
            s.nccl->all_reduce_device(data, n, true, static_cast<uint32_t>(s.timeout.count()));
        !err.empty())
      return failed("NCCL all-reduce of " + std::to_string(n) + " gradients", err);
    return {};
  }
#ifdef LLMOS_HAS_GLOO
  try {
    std::vector<at::Tensor> tensors{
        torch::from_blob(data, {static_cast<int64_t>(n)}, torch::kFloat32)};
    s.gloo->allreduce(tensors)->wait(s.timeout);
    tensors[0].div_(static_cast<double>(s.world));
  } catch (const std::exception& e) {
    return failed("all-reduce of " + std::to_string(n) + " gradients", e.what());
  }
#else
  (void)data;
#endif
  return {};
}

const std::string& gradient_group::backend() const {
  return impl_->backend;
}

uint32_t gradient_group::rank() const {
  return impl_->rank;
}
uint32_t gradient_group::world() const {
  return impl_->world;
}

} // namespace llmos::model
