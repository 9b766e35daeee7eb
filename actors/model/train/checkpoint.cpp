// Checkpoints: one torch archive with the model, the optimizer, the CPU RNG state and a JSON
// record (spec, data shape, labels, step, data cursor), written to a temp file, fsynced and
// renamed, so a crash leaves the old checkpoint or the new one.
#include <cstring>
#include <filesystem>

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <unistd.h>

#include "model/train/engine_impl.hpp"

namespace llmos::model {

namespace {

constexpr const char* checkpoint_magic = "llmos-checkpoint-1";

torch::Tensor bytes_tensor(std::string bytes) {
  auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

std::string tensor_string(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.numel()));
}

/// The JSON record a checkpoint carries beside the tensors. (Written only unquantized: a
/// quantized engine is refused before.)
nlohmann::json checkpoint_record(const model_spec& spec, const data_shape& shape,
                                 const label_vocab& labels, int64_t step,
                                 const nlohmann::json& cursor) {
  return {{"magic", checkpoint_magic},
          {"spec", to_yaml(spec)},
          {"labels", labels.labels()},
          {"step", step},
          {"quantized", false},
          {"cursor", cursor},
          {"shape",
           {{"vocab_size", shape.vocab_size},
            {"num_classes", shape.num_classes},
            {"pad_id", shape.pad_id},
            {"bos_id", shape.bos_id},
            {"eos_id", shape.eos_id},
            {"image_size", shape.image_size}}}};
}

/// Renames `tmp` to `path` with the bytes durable first and the rename durable after: a crash
/// leaves either the old checkpoint or the new one, never a torn file under the real name.
void publish_durably(const std::string& tmp, const std::string& path) {
  int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::filesystem::rename(tmp, path);
  auto dir = std::filesystem::path(path).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

} // namespace

caf::error engine::save(const std::string& path, const nlohmann::json& cursor) const {
  auto& s = *impl_;
  const std::string tmp = path + ".tmp";
  try {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const auto meta = checkpoint_record(s.spec, s.shape, s.labels, s.step, cursor);
    if (s.quantized)
      return fail(s.spec, error_code::bad_params,
                  "is quantized: int8 packed weights are not saved; save before quantizing");
    // Checkpoints are device-independent: a model on a GPU is written from the host, so a
    // machine without one loads it (and place() moves it back where it computes).
    struct host_round_trip {
      impl& s;
      torch::Device home;
      explicit host_round_trip(impl& x) : s(x), home(x.device) {
        if (!home.is_cpu())
          s.move_to(torch::kCPU, true);
      }
      ~host_round_trip() {
        if (!home.is_cpu())
          s.move_to(home, true);
      }
      host_round_trip(const host_round_trip&) = delete;
      host_round_trip& operator=(const host_round_trip&) = delete;
    } on_host(s);
    torch::serialize::OutputArchive archive;
    archive.write("llmos_meta", bytes_tensor(meta.dump()));
    torch::serialize::OutputArchive model_archive, optim_archive;
    s.net->save(model_archive);
    s.optimizer->save(optim_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optim_archive);
    auto gen = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      archive.write("rng", gen.get_state());
    }
    archive.save_to(tmp);
    publish_durably(tmp, path);
  } catch (const std::exception& e) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return fail(s.spec, error_code::io_failed,
                "writing checkpoint '" + path + "' failed: " + e.what());
  }
  return {};
}

caf::expected<std::unique_ptr<engine>> engine::load(const std::string& path) {
  auto refuse = [&](const std::string& why) {
    return make_llmos_error(error_code::bad_config, "checkpoint '" + path + "': " + why);
  };
  if (!std::filesystem::exists(path))
    return refuse("no such file");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::Tensor meta_bytes;
    if (!archive.try_read("llmos_meta", meta_bytes))
      return refuse("not an llmos checkpoint (no llmos_meta record)");
    auto meta = nlohmann::json::parse(tensor_string(meta_bytes), nullptr, false);
    if (meta.is_discarded() || meta.value("magic", "") != checkpoint_magic)
      return refuse("not an llmos checkpoint (unknown header)");
    auto spec = parse_model_spec(meta.at("spec").get<std::string>(), path + "#spec");
    if (!spec)
      return refuse(describe(spec.error()));
    data_shape shape;
    auto& j = meta.at("shape");
    shape.vocab_size = j.at("vocab_size");
    shape.num_classes = j.at("num_classes");
    shape.pad_id = j.at("pad_id");
    shape.bos_id = j.at("bos_id");
    shape.eos_id = j.at("eos_id");
    shape.image_size = j.at("image_size");
    auto made =
        create(*spec, shape, label_vocab(meta.at("labels").get<std::vector<std::string>>()));
    if (!made)
      return refuse(describe(made.error()));
    auto& s = *(*made)->impl_;
    torch::serialize::InputArchive model_archive, optim_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optim_archive);
    s.net->load(model_archive);
    s.optimizer->load(optim_archive);
    s.step = meta.at("step");
    torch::Tensor rng;
    archive.read("rng", rng);
    auto gen = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng);
    }
    (*made)->cursor_ = meta.value("cursor", nlohmann::json{});
    return made;
  } catch (const c10::Error& e) {
    return refuse(std::string("corrupt or unreadable: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return refuse(std::string("corrupt or unreadable: ") + e.what());
  }
}

} // namespace llmos::model
