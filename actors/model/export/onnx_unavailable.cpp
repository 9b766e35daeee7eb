// The ONNX graph builders of a build without libonnx (-DLLMOS_WITH_ONNX=OFF): exporting to
// "onnx" is refused with the reason; TorchScript export is unaffected.
#include "model/export/onnx_graph.hpp"

#include "llmos/messages/error.hpp"

namespace llmos::model::onnx_export {
namespace {

caf::error unavailable() {
  return make_llmos_error(error_code::bad_params,
                          "this build of llmos has no ONNX export (configured without libonnx: "
                          "install libonnx-dev and configure with -DLLMOS_WITH_ONNX=ON); export "
                          "to torchscript instead");
}

} // namespace

caf::expected<std::string> bag_model(const bag_net&, const model_info&) {
  return unavailable();
}

caf::expected<std::string> cnn_model(const cnn_net&, const model_info&) {
  return unavailable();
}

} // namespace llmos::model::onnx_export
