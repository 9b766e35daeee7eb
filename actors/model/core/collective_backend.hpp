// Which library averages a data-parallel group's gradients, decided once every rank said where
// its gradients live and what it asked for. NCCL when every rank is on a GPU of its own and the
// build has NCCL: the gradients never leave the GPUs. Gloo otherwise (CPU ranks, a mix, or asked
// for): the gradients go through host memory. Two ranks on one GPU cannot share an NCCL
// communicator (NCCL fails deep inside its init, with a generic error): asked for NCCL, or where
// Gloo is missing (pip's LibTorch ships no Gloo headers), that placement is refused up front,
// naming both ranks and the GPU; otherwise Gloo serves it. Every rank decides alike from the
// same places, so ranks that asked for different libraries are refused rather than left to
// wait on each other in two libraries.
//
// Plain C++: the ranks' places travel as text through the group's rendezvous store.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::model {

/// Where one rank's gradients live, and which library it asked for.
struct rank_place {
  std::string type;           ///< "cpu" or "cuda"
  std::string gpu;            ///< a GPU's UUID (one GPU seen from two processes), "" if unknown
  std::string host;           ///< the host name, for messages
  std::string asked = "auto"; ///< "auto", "nccl" or "gloo"

  /// "type|gpu|host|asked" and back (an error for text that is not one).
  std::string text() const;
  static caf::expected<rank_place> parse(const std::string& text);
};

/// What the build has.
struct collective_libraries {
  bool nccl = false;
  bool gloo = false;
};

/// "nccl" or "gloo" for ranks `places` (indexed by rank); bad_params with the reason when what
/// they asked cannot be met (an unknown or a mixed ask, NCCL for a rank on a CPU or without NCCL,
/// two ranks on one GPU without Gloo to serve them).
caf::expected<std::string> choose_backend(const std::vector<rank_place>& places,
                                          collective_libraries built);

/// bad_params unless `asked` is "auto", "nccl" or "gloo".
caf::error check_backend_name(const std::string& asked);

} // namespace llmos::model
