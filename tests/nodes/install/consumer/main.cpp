// Embeds one llmos node through the installed package, spawns a device actor through its node
// manager and runs GELU on it: exits 0 only when every step worked and the values are right.
#include <cmath>
#include <cstring>
#include <iostream>
#include <vector>

#include <caf/scoped_actor.hpp>

#include "llmos/messages/device.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/node/node.hpp"

namespace {

// GELU (tanh form) of -1, 0, 1 and 2, as the CPU reference computes it.
constexpr float inputs[] = {-1.0f, 0.0f, 1.0f, 2.0f};
constexpr float expected[] = {-0.158808f, 0.0f, 0.841192f, 1.954598f};

} // namespace

int main() {
  auto node = llmos::node::start_embedded();
  if (!node) {
    std::cerr << "consumer: cannot start the embedded node: " << llmos::describe(node.error())
              << "\n";
    return 1;
  }
  int status = 1;
  {
    caf::scoped_actor self{(*node)->system()};
    llmos::actor_entry entry;
    self->request((*node)->manager(), std::chrono::seconds(10), llmos::spawn_atom::value,
                  llmos::spawn_request{"", "device", "dev0", {}})
        .receive([&](llmos::actor_entry& e) { entry = std::move(e); },
                 [&](caf::error& err) {
                   std::cerr << "consumer: spawn failed: " << llmos::describe(err) << "\n";
                 });
    if (!entry.handle)
      return 1;
    std::cout << "spawned '" << entry.name << "' (" << entry.kind << ") on node '" << entry.node
              << "'\n";
    llmos::tensor_bytes in;
    in.shape = {static_cast<int64_t>(std::size(inputs))};
    in.data.assign(reinterpret_cast<const char*>(inputs), sizeof(inputs));
    auto device = caf::actor_cast<llmos::device_actor>(entry.handle);
    self->request(device, std::chrono::seconds(10), llmos::gelu_atom::value, std::move(in))
        .receive(
            [&](llmos::tensor_bytes& out) {
              if (out.data.size() != sizeof(expected)) {
                std::cerr << "consumer: gelu returned " << out.data.size() << " bytes, expected "
                          << sizeof(expected) << "\n";
                return;
              }
              std::vector<float> values(std::size(expected));
              std::memcpy(values.data(), out.data.data(), out.data.size());
              bool ok = true;
              for (std::size_t i = 0; i < values.size(); ++i) {
                std::cout << "gelu(" << inputs[i] << ") = " << values[i] << "\n";
                if (std::fabs(values[i] - expected[i]) > 1e-5f) {
                  std::cerr << "consumer: gelu(" << inputs[i] << ") is " << values[i]
                            << ", expected " << expected[i] << "\n";
                  ok = false;
                }
              }
              status = ok ? 0 : 1;
            },
            [&](caf::error& err) {
              std::cerr << "consumer: gelu failed: " << llmos::describe(err) << "\n";
            });
  }
  node->reset();
  return status;
}
