// Which library averages a data-parallel group's gradients, decided once every rank said where
// its gradients live. NCCL when every rank is on a GPU of its own and the build has NCCL: the
// gradients never leave the GPUs. Gloo otherwise (CPU ranks, a mix, or asked for): the
// gradients go through host memory. Two ranks on one GPU cannot share an NCCL communicator
// (NCCL refuses duplicate GPUs deep inside its init, with a generic error), so that placement
// is refused up front, naming both ranks and the GPU; Gloo serves it when asked for.
//
// Plain C++: the ranks' places travel as text through the group's rendezvous store.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::model {

/// Where one rank's gradients live.
struct rank_place {
  std::string type; ///< "cpu" or "cuda"
  std::string gpu;  ///< a GPU's UUID (the same GPU seen from two processes), "" on a CPU
  std::string host; ///< the host name, for messages

  /// "type|gpu|host" and back (nullopt-like error for text that is not one).
  std::string text() const;
  static caf::expected<rank_place> parse(const std::string& text);
};

/// "nccl" or "gloo" for ranks `places` (indexed by rank), given what was asked for ("auto",
/// "nccl" or "gloo") and whether this build has NCCL; bad_params with the reason when the ask
/// cannot be met (NCCL for a rank on a CPU, two ranks on one GPU, an unknown name).
caf::expected<std::string> choose_backend(const std::vector<rank_place>& places,
                                          const std::string& asked, bool nccl_built);

} // namespace llmos::model
