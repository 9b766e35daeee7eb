// Packaging a trained version for runtimes outside llmos. TorchScript covers every architecture:
// the network's own C++ forward recorded by LibTorch's tracer (a C++ module cannot be scripted),
// so what runs is what trained. ONNX covers the classifiers whose forward OpenCV 4.6's dnn
// module can import (bag, cnn): the graph is written from the trained weights. Checkpoint path
// in, file out, both written atomically; torch-free so the registry and actors can call it.
//
// The TorchScript module's forward(input) -> logits, with the inputs infer takes:
//   bag          tokens [batch, length] (int32 or int64)     -> [batch, classes]
//   bilstm       tokens [1, length]                          -> [1, classes]
//   transformer  tokens [1, max_length], padded with pad_id  -> [1, classes]
//   gpt          tokens [1, max_length], any padding after    -> [1, max_length, vocab]
//   cnn          pixels uint8 [batch, side, side]            -> [batch, classes]
// The tracer records sizes the C++ code reads as plain integers (LSTM state, attention views,
// positions) as constants, hence the fixed dimensions; the exporter verifies every dimension it
// declares free on a second input. The archive carries "llmos.json" (architecture, labels,
// input/output names and shapes, -1 where free, pad/bos/eos ids); an ONNX file carries the same
// JSON as the metadata entry "llmos". Outputs are float32 even for models trained in bf16.
#pragma once

#include <string>
#include <vector>

#include <caf/error.hpp>

namespace llmos::model {

/// Writes the network of `checkpoint` to `out` as a TorchScript module (torch::jit::load).
/// Errors: the checkpoint's (bad_config), io_failed naming `out`, kernel_failed when the traced
/// module does not reproduce the network.
caf::error export_torchscript(const std::string& checkpoint, const std::string& out);

/// Writes the network of `checkpoint` to `out` as an ONNX model (opset 12): bag takes "tokens"
/// int64 [batch, length], cnn "pixels" uint8 [batch, side, side]; both give "logits" float
/// [batch, classes]. bad_params naming the architecture for the others.
caf::error export_onnx(const std::string& checkpoint, const std::string& out);

/// The formats `architecture` exports to: "torchscript", and "onnx" for bag and cnn.
std::vector<std::string> export_formats(const std::string& architecture);

} // namespace llmos::model
