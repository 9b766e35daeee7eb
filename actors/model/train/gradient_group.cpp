#include "model/train/gradient_group.hpp"

#include <chrono>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

// Debian's LibTorch builds on libgloo-dev's headers; pip's LibTorch ships c10d without Gloo's
// headers, so there the group opens its store but refuses to connect, saying why.
#if __has_include(<gloo/algorithm.h>)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define LLMOS_HAS_GLOO 1
#endif

#include "llmos/messages/error.hpp"

namespace llmos::model {

struct gradient_group::impl {
  std::string bind_host;
  uint32_t rank = 0;
  uint32_t world = 1;
  std::chrono::milliseconds timeout{30000};
  c10::intrusive_ptr<c10d::TCPStore> store;
#ifdef LLMOS_HAS_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
#else
  bool group = false; ///< never connected: no Gloo in this build
#endif
};

namespace {

caf::error failed(const std::string& what, const std::exception& e) {
  return make_llmos_error(error_code::kernel_failed,
                          "data-parallel group: " + what + ": " + e.what());
}

} // namespace

gradient_group::gradient_group(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
gradient_group::~gradient_group() = default;

caf::expected<std::shared_ptr<gradient_group>>
gradient_group::open(const std::string& store_host, uint16_t port, uint32_t rank, uint32_t world,
                     const std::string& bind_host, uint32_t timeout_ms) {
  if (world == 0 || rank >= world)
    return make_llmos_error(error_code::bad_params, "data-parallel group: rank " +
                                                        std::to_string(rank) + " of world " +
                                                        std::to_string(world));
  auto p = std::make_unique<impl>();
  p->bind_host = bind_host;
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
    return failed("store at " + store_host + ":" + std::to_string(port), e);
  }
  return std::shared_ptr<gradient_group>(new gradient_group(std::move(p)));
}

uint16_t gradient_group::store_port() const {
  return impl_->store->getPort();
}

caf::error gradient_group::connect() {
  if (impl_->group)
    return {};
#ifndef LLMOS_HAS_GLOO
  return make_llmos_error(error_code::kernel_failed,
                          "data-parallel group: this build's LibTorch ships no Gloo headers "
                          "(pip's does not), so gradients cannot be averaged over Gloo");
#else
  try {
    auto opts = c10d::ProcessGroupGloo::Options::create(impl_->timeout);
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(impl_->bind_host));
    opts->threads = 1; // the device actor owns the cores; Gloo only moves bytes
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        impl_->store, static_cast<int>(impl_->rank), static_cast<int>(impl_->world), opts);
  } catch (const std::exception& e) {
    return failed("connecting rank " + std::to_string(impl_->rank) + " of " +
                      std::to_string(impl_->world),
                  e);
  }
  return {};
#endif
}

caf::error gradient_group::average(float* data, std::size_t n) {
  if (!impl_->group)
    if (auto err = connect())
      return err;
#ifdef LLMOS_HAS_GLOO
  try {
    std::vector<at::Tensor> tensors{
        torch::from_blob(data, {static_cast<int64_t>(n)}, torch::kFloat32)};
    impl_->group->allreduce(tensors)->wait(impl_->timeout);
    tensors[0].div_(static_cast<double>(impl_->world));
  } catch (const std::exception& e) {
    return failed("all-reduce of " + std::to_string(n) + " gradients", e);
  }
#else
  (void)data;
  (void)n;
#endif
  return {};
}

uint32_t gradient_group::rank() const {
  return impl_->rank;
}
uint32_t gradient_group::world() const {
  return impl_->world;
}

} // namespace llmos::model
