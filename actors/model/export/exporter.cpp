// The torch side of packaging: restores a checkpoint's network, traces it into a TorchScript
// module (what Python's torch.jit.trace_module does, from C++), and copies the classifiers'
// weights into the plain arrays the ONNX graph builder takes. The only file of export/ that
// includes torch.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/serialization/import.h>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/atomic_file.hpp"
#include "model/export/checkpoint_network.hpp"
#include "model/export/export.hpp"
#include "model/export/onnx_graph.hpp"
#include "model/train/engine.hpp"

namespace llmos::model {

namespace {

namespace fs = std::filesystem;

caf::error fail(const model_spec& s, error_code code, const std::string& what) {
  return make_llmos_error(code, "model '" + s.name + "': " + what);
}

/// Leaves the process's default CPU generator as it found it: engine::load restores the RNG
/// state saved in the checkpoint, and building a network draws initial weights.
class rng_guard {
public:
  rng_guard() : gen_(at::detail::getDefaultCPUGenerator()) {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    state_ = gen_.get_state();
  }
  ~rng_guard() {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    gen_.set_state(state_);
  }
  rng_guard(const rng_guard&) = delete;
  rng_guard& operator=(const rng_guard&) = delete;

private:
  at::Generator gen_;
  at::Tensor state_;
};

std::vector<float> flat(const std::vector<torch::Tensor>& params) {
  std::vector<float> out;
  for (auto& p : params) {
    auto c = p.detach().contiguous();
    out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

/// How the traced forward is called: the input's name, the shapes it is traced and checked on,
/// and the shape it declares (-1 where any size works).
struct input_plan {
  std::string name;
  std::vector<int64_t> example, probe, declared;
};

caf::expected<input_plan> plan_for(const checkpoint_network& c) {
  const auto& arch = c.spec.architecture;
  const auto side = c.shape.image_size;
  const auto limit = c.net->max_length();
  if (arch == "cnn")
    return input_plan{"pixels", {2, side, side}, {3, side, side}, {-1, side, side}};
  if (arch == "bag")
    return input_plan{"tokens", {2, 9}, {3, 5}, {-1, -1}};
  // torch::nn::LSTM sizes its zero initial state from the batch: traced as a constant.
  if (arch == "bilstm")
    return input_plan{"tokens", {1, 9}, {1, 4}, {1, -1}};
  // Attention reshapes by the batch and length it reads, positions are arange(length): constants
  // in the trace, so one padded row of the full context.
  if (arch == "transformer" || arch == "gpt")
    return input_plan{"tokens", {1, limit}, {1, limit}, {1, limit}};
  return fail(c.spec, error_code::bad_params,
              "architecture '" + arch + "' has no TorchScript exporter");
}

/// Deterministic inputs in wire form, padded the way batches are (the last row ends in padding;
/// with 3+ rows, one row is all padding). Token ids as int64 when `wide`, else int32.
torch::Tensor make_input(const checkpoint_network& c, const std::vector<int64_t>& shape,
                         uint64_t seed, bool wide) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  if (c.spec.architecture == "cnn")
    return torch::randint(0, 256, shape, gen, torch::kUInt8);
  auto ids = torch::randint(0, c.shape.vocab_size, shape, gen, wide ? torch::kLong : torch::kInt);
  const auto rows = shape[0];
  const auto length = shape[1];
  if (c.shape.pad_id >= 0 && c.shape.pad_id < c.shape.vocab_size) {
    if (length >= 3)
      ids[rows - 1].narrow(0, length - length / 3, length / 3).fill_(c.shape.pad_id);
    if (rows >= 3)
      ids[0].fill_(c.shape.pad_id);
  }
  return ids;
}

nlohmann::json describe_export(const checkpoint_network& c, const input_plan& plan) {
  const bool lm = c.net->task() == nn::task_kind::language_model;
  std::vector<int64_t> out{plan.declared[0]};
  if (lm)
    out.insert(out.end(), {plan.declared[1], c.shape.vocab_size});
  else
    out.push_back(c.shape.num_classes);
  return {{"format", "llmos-export-1"},
          {"model", c.spec.name},
          {"architecture", c.spec.architecture},
          {"task", lm ? "language_model" : "classify"},
          {"step", c.step},
          {"labels", c.labels.labels()},
          {"input",
           {{"name", plan.name},
            {"dtype", plan.name == "pixels" ? "uint8" : "int64"},
            {"shape", plan.declared}}},
          {"output", {{"name", "logits"}, {"dtype", "float32"}, {"shape", out}}},
          {"vocab_size", c.shape.vocab_size},
          {"pad_id", c.shape.pad_id},
          {"bos_id", c.shape.bos_id},
          {"eos_id", c.shape.eos_id},
          {"max_length", c.net->max_length()},
          {"image_size", c.shape.image_size}};
}

/// Writes through `write(tmp)` then renames, so `out` is the old file or the whole new one.
caf::error write_atomically(const std::string& out,
                            const std::function<caf::error(const std::string&)>& write) {
  auto done = replace_file_by(out, write);
  return done ? caf::error{} : done.error();
}

/// The network's forward from wire-form inputs, recorded by the tracer into a module whose
/// attributes are the network's parameters (the tracer maps each tensor it meets to them).
torch::jit::Module trace_module(checkpoint_network& c, const input_plan& plan) {
  torch::jit::Module m(c10::QualifiedName("__torch__.llmos." + c.spec.architecture));
  auto attribute = [](std::string name) {
    std::replace(name.begin(), name.end(), '.', '_');
    return name;
  };
  for (auto& p : c.net->named_parameters())
    m.register_parameter(attribute(p.key()), p.value(), false);
  for (auto& b : c.net->named_buffers())
    m.register_buffer(attribute(b.key()), b.value());
  auto forward = [&](torch::jit::Stack in) -> torch::jit::Stack {
    return {c.net->forward(network_input(c, in.at(0).toTensor()))};
  };
  auto traced = torch::jit::tracer::trace({make_input(c, plan.example, 1, false)}, forward,
                                          [](const at::Tensor&) { return std::string(); }, true,
                                          false, &m, {plan.name});
  auto* fn = m._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*m.type()->name(), "forward"), traced.first->graph);
  m.type()->addMethod(fn);
  return m;
}

/// Largest difference between `m` and the network on the example and the probe input (whose
/// free dimensions differ from the example's); the probe's ids are int64, the example's int32.
double max_difference(torch::jit::Module& m, checkpoint_network& c, const input_plan& plan) {
  struct check {
    std::vector<int64_t> shape;
    uint64_t seed;
    bool wide;
  };
  double worst = 0.0;
  for (const auto& [shape, seed, wide] :
       {check{plan.example, 2, false}, check{plan.probe, 3, true}}) {
    auto x = make_input(c, shape, seed, wide);
    auto got = m.forward({x}).toTensor();
    auto want = c.net->forward(network_input(c, x));
    if (got.sizes() != want.sizes())
      return std::numeric_limits<double>::infinity();
    worst = std::max(worst, (got - want).abs().max().item<double>());
  }
  return worst;
}

onnx_export::weights plain(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat32).contiguous();
  return {c.sizes().vec(),
          std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())};
}

/// Copies parameters out by their registered names (the names checkpoints store them under).
class weight_reader {
public:
  explicit weight_reader(const checkpoint_network& c) : c_(c), params_(c.net->named_parameters()) {}

  caf::expected<onnx_export::weights> get(const std::string& name) const {
    if (auto* p = params_.find(name))
      return plain(*p);
    return fail(c_.spec, error_code::bad_params,
                "has no parameter '" + name + "': the " + c_.spec.architecture +
                    " layout changed and the ONNX exporter does not know it");
  }

  caf::expected<onnx_export::layer> dense(const std::string& name) const {
    auto w = get(name + ".base.weight");
    auto b = get(name + ".base.bias");
    if (!w)
      return std::move(w.error());
    if (!b)
      return std::move(b.error());
    return onnx_export::layer{std::move(*w), std::move(*b), {}, {}};
  }

private:
  const checkpoint_network& c_;
  torch::OrderedDict<std::string, torch::Tensor> params_;
};

caf::expected<std::string> onnx_bytes(const checkpoint_network& c,
                                      const onnx_export::model_info& info) {
  weight_reader r(c);
  auto hidden = r.dense("hidden");
  auto head = r.dense("head");
  if (!hidden)
    return std::move(hidden.error());
  if (!head)
    return std::move(head.error());
  if (c.spec.architecture == "bag") {
    auto emb = r.get("emb.weight");
    if (!emb)
      return std::move(emb.error());
    return onnx_export::bag_model({std::move(*emb), c.shape.pad_id, *hidden, *head}, info);
  }
  onnx_export::cnn_net net{c.shape.image_size, pixel_mean, pixel_deviation, {}, *hidden, *head};
  auto children = c.net->named_children();
  for (std::size_t i = 0;; ++i) {
    auto* child = children.find("conv" + std::to_string(i));
    if (child == nullptr)
      break;
    auto* conv = (*child)->as<torch::nn::Conv2dImpl>();
    const auto* pads =
        conv ? c10::get_if<torch::ExpandingArray<2>>(&conv->options.padding()) : nullptr;
    auto ones = [](c10::IntArrayRef a) {
      return std::all_of(a.begin(), a.end(), [](int64_t v) { return v == 1; });
    };
    if (!pads || !ones(conv->options.stride()) || !ones(conv->options.dilation()) ||
        conv->options.groups() != 1 ||
        !c10::get_if<torch::enumtype::kZeros>(&conv->options.padding_mode()))
      return fail(c.spec, error_code::bad_params,
                  "conv" + std::to_string(i) + " is not a plain zero-padded convolution");
    const c10::IntArrayRef k = conv->options.kernel_size();
    const c10::IntArrayRef p = *pads;
    net.convs.push_back({plain(conv->weight),
                         conv->bias.defined() ? plain(conv->bias) : onnx_export::weights{},
                         {k[0], k[1]},
                         {p[0], p[1], p[0], p[1]}});
  }
  return onnx_export::cnn_model(net, info);
}

} // namespace

caf::expected<checkpoint_network> load_checkpoint_network(const std::string& path) {
  rng_guard keep_rng;
  auto e = engine::load(path);
  if (!e)
    return std::move(e.error());
  checkpoint_network c{(*e)->spec(), (*e)->shape(), (*e)->labels(), (*e)->step(), nullptr};
  try {
    auto made = nn::make_network(c.spec, c.shape);
    if (!made)
      return std::move(made.error());
    c.net = std::move(*made);
    // As engine::impl::build_network: adapters on every linear layer but the head.
    if (c.spec.lora_rank > 0) {
      const auto head = c.net->head_parameters();
      for (auto& lin : c.net->linears())
        if (std::none_of(head.begin(), head.end(),
                         [&](const torch::Tensor& p) { return p.is_same(lin->base->weight); }))
          lin->enable_lora(c.spec.lora_rank, c.spec.lora_alpha);
    }
    torch::serialize::InputArchive archive, model_archive;
    archive.load_from(path);
    archive.read("model", model_archive);
    c.net->load(model_archive);
    if (flat(c.net->parameters()) != (*e)->flat_parameters())
      return fail(c.spec, error_code::kernel_failed,
                  "the network restored from '" + path +
                      "' differs from the engine's: the exporter no longer restores "
                      "checkpoints the way engine::load does");
    for (auto& lin : c.net->linears())
      lin->merge_lora();
    for (auto& p : c.net->parameters())
      p.set_requires_grad(false);
    c.net->eval();
  } catch (const c10::Error& err) {
    return fail(c.spec, error_code::kernel_failed,
                "restoring '" + path + "': " + err.what_without_backtrace());
  }
  return c;
}

torch::Tensor network_input(const checkpoint_network& c, const torch::Tensor& wire) {
  if (c.spec.architecture == "cnn") {
    auto x = wire.to(torch::kFloat32).div(255.0).unsqueeze(1);
    return (x - pixel_mean) / pixel_deviation;
  }
  return wire.to(torch::kLong);
}

caf::error export_torchscript(const std::string& checkpoint, const std::string& out) {
  auto c = load_checkpoint_network(checkpoint);
  if (!c)
    return std::move(c.error());
  auto plan = plan_for(*c);
  if (!plan)
    return std::move(plan.error());
  torch::NoGradGuard no_grad;
  return write_atomically(out, [&](const std::string& tmp) -> caf::error {
    torch::jit::Module m;
    try {
      m = trace_module(*c, *plan);
    } catch (const c10::Error& e) {
      return fail(c->spec, error_code::kernel_failed,
                  "tracing " + c->spec.architecture + " failed: " + e.what_without_backtrace());
    }
    try {
      m.save(tmp, {{"llmos.json", describe_export(*c, *plan).dump(2)}});
    } catch (const c10::Error& e) {
      return fail(c->spec, error_code::io_failed,
                  "writing '" + tmp + "' failed: " + e.what_without_backtrace());
    }
    // Check the file, not the module in memory: what a reader loads must be the network.
    try {
      auto loaded = torch::jit::load(tmp);
      const auto diff = max_difference(loaded, *c, *plan);
      if (!(diff <= 1e-4))
        return fail(c->spec, error_code::kernel_failed,
                    "the traced " + c->spec.architecture +
                        " module does not reproduce the network (max difference " +
                        std::to_string(diff) + ")");
    } catch (const c10::Error& e) {
      return fail(c->spec, error_code::kernel_failed,
                  "the traced " + c->spec.architecture +
                      " module fails on a second input: " + e.what_without_backtrace());
    }
    return {};
  });
}

caf::error export_onnx(const std::string& checkpoint, const std::string& out) {
  auto c = load_checkpoint_network(checkpoint);
  if (!c)
    return std::move(c.error());
  const auto& arch = c->spec.architecture;
  const auto formats = export_formats(arch);
  if (std::find(formats.begin(), formats.end(), "onnx") == formats.end())
    return fail(c->spec, error_code::bad_params,
                "architecture '" + arch +
                    "' has no ONNX exporter (ONNX: bag, cnn; TorchScript: every architecture)");
  const bool text = arch != "cnn";
  input_plan plan{text ? "tokens" : "pixels",
                  {},
                  {},
                  text ? std::vector<int64_t>{-1, -1}
                       : std::vector<int64_t>{-1, c->shape.image_size, c->shape.image_size}};
  auto bytes = onnx_bytes(*c, {c->spec.name, c->step, describe_export(*c, plan).dump()});
  if (!bytes)
    return std::move(bytes.error());
  return write_atomically(out, [&](const std::string& tmp) -> caf::error {
    auto written = write_file_synced(tmp, *bytes);
    return written ? caf::error{} : written.error();
  });
}

std::vector<std::string> export_formats(const std::string& architecture) {
  if (architecture == "bag" || architecture == "cnn")
    return {"torchscript", "onnx"};
  if (architecture == "bilstm" || architecture == "transformer" || architecture == "gpt")
    return {"torchscript"};
  return {};
}

} // namespace llmos::model
