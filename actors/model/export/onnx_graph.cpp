#include "model/export/onnx_graph.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "llmos/messages/error.hpp"

namespace llmos::model::onnx_export {

namespace {

caf::error refuse(const model_info& info, const std::string& what) {
  return make_llmos_error(error_code::bad_params,
                          "ONNX export of model '" + info.name + "': " + what);
}

std::string dims(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// Appends initializers and nodes to one graph; every tensor is named after what it holds.
class graph_builder {
public:
  explicit graph_builder(onnx::GraphProto* g) : g_(g) {}

  std::string constant(const std::string& name, const weights& w) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : w.shape)
      t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(w.values.data()),
                                w.values.size() * sizeof(float)));
    return name;
  }

  std::string scalar(const std::string& name, float v) { return constant(name, {{}, {v}}); }

  std::string int64s(const std::string& name, const std::vector<int64_t>& v) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    t->set_raw_data(
        std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
    return name;
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in,
                        const std::string& out) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (auto& i : in)
      n->add_input(i);
    n->add_output(out);
    return n;
  }

  static void attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }

  static void attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v)
      a->add_ints(x);
  }

  /// y = x W^T + b, W in torch's [out, in] layout. OpenCV 4.6 imports Gemm with a constant W
  /// only in this transposed form.
  std::string dense(const std::string& x, const layer& l, const std::string& name) {
    std::vector<std::string> in{x, constant(name + ".weight", l.w)};
    if (!l.b.values.empty())
      in.push_back(constant(name + ".bias", l.b));
    attr(node("Gemm", in, name), "transB", 1);
    return name;
  }

  void io(bool input, const std::string& name, int type, const std::vector<std::string>& shape) {
    auto* v = input ? g_->add_input() : g_->add_output();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (auto& d : shape) {
      auto* dim = t->mutable_shape()->add_dim();
      if (!d.empty() && d[0] >= '0' && d[0] <= '9')
        dim->set_dim_value(std::stoll(d));
      else
        dim->set_dim_param(d);
    }
  }

private:
  onnx::GraphProto* g_;
};

onnx::ModelProto empty_model(const model_info& info) {
  onnx::ModelProto m;
  m.set_ir_version(7); // the IR version of opset 12
  m.set_producer_name("llmos");
  m.set_model_version(info.version);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name(info.name);
  auto* meta = m.add_metadata_props();
  meta->set_key("llmos");
  meta->set_value(info.metadata_json);
  return m;
}

caf::expected<std::string> finish(const onnx::ModelProto& m, const model_info& info) {
  try {
    onnx::checker::check_model(m);
    // What Python's check_model(full_check=True) adds: strict type and shape inference, which
    // also checks the declared output shape against the graph.
    auto inferred = m;
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  } catch (const std::exception& e) {
    return refuse(info, std::string("the ONNX checker refuses the graph: ") + e.what());
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    return refuse(info, "the graph does not serialise");
  return bytes;
}

/// Checks w [out, in] (and b [out]) of a dense layer taking `in` features.
bool fits(const layer& l, int64_t in) {
  return l.w.shape.size() == 2 && l.w.shape[1] == in &&
         static_cast<int64_t>(l.w.values.size()) == l.w.shape[0] * in &&
         (l.b.values.empty() || static_cast<int64_t>(l.b.values.size()) == l.w.shape[0]);
}

} // namespace

caf::expected<std::string> bag_model(const bag_net& net, const model_info& info) {
  const auto& e = net.embedding;
  if (e.shape.size() != 2 || static_cast<int64_t>(e.values.size()) != e.shape[0] * e.shape[1])
    return refuse(info, "embedding of shape " + dims(e.shape) + " is not [vocab, dim]");
  const int64_t vocab = e.shape[0];
  const int64_t dim = e.shape[1];
  if (!fits(net.hidden, dim) || !fits(net.head, net.hidden.w.shape[0]))
    return refuse(info, "layers " + dims(net.hidden.w.shape) + " and " + dims(net.head.w.shape) +
                            " do not follow an embedding of dim " + std::to_string(dim));
  auto m = empty_model(info);
  graph_builder g(m.mutable_graph());
  g.io(true, "tokens", onnx::TensorProto::INT64, {"batch", "length"});
  g.io(false, "logits", onnx::TensorProto::FLOAT, {"batch", std::to_string(net.head.w.shape[0])});

  // OpenCV 4.6 runs Gather only with a constant scalar index, so the embedding lookup becomes a
  // one-hot product: a 1x1 convolution gives id - v for every vocabulary entry v, and
  // relu(1 - |id - v|) is 1 exactly where id == v (ids are small integers, exact in float).
  weights ones{{vocab, 1, 1, 1}, std::vector<float>(static_cast<std::size_t>(vocab), 1.0f)};
  weights minus_v{{vocab}, {}};
  for (int64_t v = 0; v < vocab; ++v)
    minus_v.values.push_back(-static_cast<float>(v));
  g.attr(g.node("Cast", {"tokens"}, "ids"), "to", int64_t{onnx::TensorProto::FLOAT});
  g.node("Reshape", {"ids", g.int64s("ids_shape", {0, 1, -1, 1})}, "ids_bt"); // [B, 1, T, 1]
  g.attr(g.node("Conv", {"ids_bt", g.constant("ones", ones), g.constant("minus_v", minus_v)},
                "id_minus_v"),
         "kernel_shape", std::vector<int64_t>{1, 1}); // [B, V, T, 1]
  g.node("Abs", {"id_minus_v"}, "distance");
  g.node("Mul", {"distance", g.scalar("minus_one", -1.0f)}, "minus_distance");
  g.node("Add", {"minus_distance", g.scalar("one", 1.0f)}, "one_hot_raw");
  g.node("Relu", {"one_hot_raw"}, "one_hot");
  // Mean over positions, not a sum: OpenCV 4.6 fixes ReduceSum's shapes when it imports the
  // graph, which breaks (crashes) on a dynamic length; GlobalAveragePool follows the input.
  g.node("GlobalAveragePool", {"one_hot"}, "frequency_4d");
  g.attr(g.node("Flatten", {"frequency_4d"}, "frequency"), "axis", int64_t{1}); // [B, V]

  // masked_mean = sum of kept embeddings / max(kept tokens, 1). With frequencies both terms are
  // divided by T; a kept token makes the denominator >= 1/T, none makes the numerator 0, so a
  // floor of 1e-9 in place of 1 gives the same result for any length below 1e9.
  weights kept_t{{dim, vocab}, std::vector<float>(static_cast<std::size_t>(dim * vocab))};
  weights share_t{{dim, vocab}, std::vector<float>(static_cast<std::size_t>(dim * vocab))};
  for (int64_t v = 0; v < vocab; ++v) {
    const float keep = v == net.pad_id ? 0.0f : 1.0f;
    for (int64_t d = 0; d < dim; ++d) {
      kept_t.values[static_cast<std::size_t>(d * vocab + v)] =
          e.values[static_cast<std::size_t>(v * dim + d)] * keep;
      share_t.values[static_cast<std::size_t>(d * vocab + v)] = keep;
    }
  }
  g.dense("frequency", {kept_t, {}, {}, {}}, "kept_sum");    // [B, D]
  g.dense("frequency", {share_t, {}, {}, {}}, "kept_share"); // [B, D], every column the same
  g.node("Add", {"kept_share", g.scalar("minus_floor", -1e-9f)}, "share_minus_floor");
  g.node("Relu", {"share_minus_floor"}, "share_above_floor");
  g.node("Add", {"share_above_floor", g.scalar("floor", 1e-9f)}, "share_floored");
  g.node("Div", {"kept_sum", "share_floored"}, "pooled");
  g.node("Relu", {g.dense("pooled", net.hidden, "hidden")}, "hidden_relu");
  g.node("Identity", {g.dense("hidden_relu", net.head, "head")}, "logits");
  return finish(m, info);
}

caf::expected<std::string> cnn_model(const cnn_net& net, const model_info& info) {
  if (net.convs.empty() || net.image_size <= 0)
    return refuse(info, "a cnn needs convolutions and an image size");
  auto m = empty_model(info);
  graph_builder g(m.mutable_graph());
  const auto side_text = std::to_string(net.image_size);
  g.io(true, "pixels", onnx::TensorProto::UINT8, {"batch", side_text, side_text});
  g.io(false, "logits", onnx::TensorProto::FLOAT,
       {"batch", std::to_string(net.head.w.shape.empty() ? 0 : net.head.w.shape[0])});
  g.attr(g.node("Cast", {"pixels"}, "pixels_float"), "to", int64_t{onnx::TensorProto::FLOAT});
  g.node("Reshape",
         {"pixels_float", g.int64s("image_shape", {-1, 1, net.image_size, net.image_size})},
         "images");
  // The engine's input scaling, in its order of operations (engine_impl.hpp, inputs()).
  g.node("Div", {"images", g.scalar("pixel_max", 255.0f)}, "unit");
  g.node("Sub", {"unit", g.scalar("pixel_mean", static_cast<float>(net.pixel_mean))}, "centred");
  g.node("Div", {"centred", g.scalar("pixel_deviation", static_cast<float>(net.pixel_deviation))},
         "x0");
  std::string x = "x0";
  int64_t channels = 1;
  int64_t side = net.image_size;
  for (std::size_t i = 0; i < net.convs.size(); ++i) {
    const auto& c = net.convs[i];
    const auto name = "conv" + std::to_string(i);
    if (c.w.shape.size() != 4 || c.w.shape[1] != channels || c.kernel.size() != 2 ||
        c.pads.size() != 4)
      return refuse(info, name + " of shape " + dims(c.w.shape) + " does not take " +
                              std::to_string(channels) + " channels");
    std::vector<std::string> in{x, g.constant(name + ".weight", c.w)};
    if (!c.b.values.empty())
      in.push_back(g.constant(name + ".bias", c.b));
    auto* conv = g.node("Conv", in, name);
    g.attr(conv, "kernel_shape", c.kernel);
    g.attr(conv, "pads", c.pads);
    g.node("Relu", {name}, name + "_relu");
    auto* pool = g.node("MaxPool", {name + "_relu"}, name + "_pool");
    g.attr(pool, "kernel_shape", std::vector<int64_t>{2, 2});
    g.attr(pool, "strides", std::vector<int64_t>{2, 2});
    x = name + "_pool";
    channels = c.w.shape[0];
    side = (side + c.pads[0] + c.pads[2] - c.kernel[0] + 1) / 2;
  }
  g.attr(g.node("Flatten", {x}, "features"), "axis", int64_t{1});
  if (!fits(net.hidden, channels * side * side) || !fits(net.head, net.hidden.w.shape[0]))
    return refuse(info, "layers " + dims(net.hidden.w.shape) + " and " + dims(net.head.w.shape) +
                            " do not follow " + std::to_string(channels * side * side) +
                            " convolution features");
  g.node("Relu", {g.dense("features", net.hidden, "hidden")}, "hidden_relu");
  g.node("Identity", {g.dense("hidden_relu", net.head, "head")}, "logits");
  return finish(m, info);
}

} // namespace llmos::model::onnx_export
