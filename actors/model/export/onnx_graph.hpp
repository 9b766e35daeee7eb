// ONNX graphs of the classifiers, written with libonnx's protobuf classes from plain weight arrays
// (no torch here: the exporter copies the trained weights out of the network). The graphs restate
// the forward of architectures.cpp in the operator subset OpenCV 4.6's dnn module imports (opset
// 12, dynamic batch and length), because that is the ONNX runtime Debian gives us to check them;
// export_test runs every graph through OpenCV against the network it came from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace llmos::model::onnx_export {

/// A row-major float32 array and its shape.
struct weights {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

/// A linear or convolution layer in torch's layout: w [out, in(, kh, kw)], b [out] (may be empty).
struct layer {
  weights w;
  weights b;
  std::vector<int64_t> kernel; ///< convolutions: kernel height, width
  std::vector<int64_t> pads;   ///< convolutions: top, left, bottom, right
};

/// Bag of embeddings: logits = head(relu(hidden(mean of the embeddings of non-pad tokens))).
struct bag_net {
  weights embedding; ///< [vocab, dim]
  int64_t pad_id = 0;
  layer hidden, head;
};

/// Small image classifier: per conv, relu then 2x2 max pooling; then hidden + relu and head.
/// Pixels come in as u8 and are scaled like the engine does: (x / 255 - mean) / deviation.
struct cnn_net {
  int64_t image_size = 28;
  double pixel_mean = 0.0;
  double pixel_deviation = 1.0;
  std::vector<layer> convs;
  layer hidden, head;
};

/// What the file says about itself: graph name, producer version and a metadata entry "llmos"
/// (JSON: architecture, labels, input and output shapes).
struct model_info {
  std::string name;
  int64_t version = 0;
  std::string metadata_json;
};

/// The graph opset: Reduce* take their axes as attributes, which OpenCV 4.6 reads.
constexpr int64_t opset = 12;

/// Serialised ModelProto of a bag classifier: input "tokens" int64 [batch, length] (ids in
/// [0, vocab)), output "logits" float [batch, classes]. Checked with onnx::checker; bad_params
/// when the weights do not fit together.
caf::expected<std::string> bag_model(const bag_net& net, const model_info& info);

/// Serialised ModelProto of a cnn: input "pixels" uint8 [batch, side, side], output "logits"
/// float [batch, classes].
caf::expected<std::string> cnn_model(const cnn_net& net, const model_info& info);

} // namespace llmos::model::onnx_export
