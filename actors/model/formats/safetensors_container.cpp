#include "model/formats/safetensors_container.hpp"

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "model/formats/half_float.hpp"

namespace llmos::model {

// Tensor data is copied straight between the file and float/uint16 buffers.
static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

namespace {

caf::error refuse(const std::string& where, const std::string& what) {
  return make_llmos_error(error_code::bad_config, where + ": " + what);
}

caf::error refuse_tensor(const std::string& path, const std::string& name,
                         const std::string& what) {
  return refuse(path, "tensor '" + name + "': " + what);
}

/// Bytes per element of every dtype the safetensors format defines; 0 for an unknown one.
uint64_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, uint64_t> sizes{
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i)
    out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

/// Checks one header entry and turns its offsets into absolute ones.
caf::expected<safetensors_entry> parse_entry(const std::string& path, const std::string& name,
                                             const nlohmann::json& j, uint64_t data_start,
                                             uint64_t file_size) {
  if (!j.is_object())
    return refuse_tensor(path, name, "the header entry is not a JSON object");
  auto dtype = j.find("dtype");
  auto shape = j.find("shape");
  auto offsets = j.find("data_offsets");
  if (dtype == j.end() || !dtype->is_string())
    return refuse_tensor(path, name, "field 'dtype' is missing or not a string");
  if (shape == j.end() || !shape->is_array())
    return refuse_tensor(path, name, "field 'shape' is missing or not an array");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    return refuse_tensor(path, name, "field 'data_offsets' is not two non-negative integers");
  safetensors_entry e;
  e.dtype = dtype->get<std::string>();
  const uint64_t esize = dtype_size(e.dtype);
  if (esize == 0)
    return refuse_tensor(path, name, "unknown dtype '" + e.dtype + "'");
  const uint64_t data_size = file_size - data_start;
  uint64_t bytes = esize;
  bool zero = false, overflow = false;
  for (auto& d : *shape) {
    if (!d.is_number_unsigned())
      return refuse_tensor(path, name, "field 'shape' holds something other than a size");
    const uint64_t dim = d.get<uint64_t>();
    if (dim > data_size)
      return refuse_tensor(path, name,
                           "dimension " + std::to_string(dim) + " is larger than the file's data");
    e.shape.push_back(static_cast<int64_t>(dim));
    zero = zero || dim == 0;
    overflow = overflow || __builtin_mul_overflow(bytes, dim, &bytes);
  }
  if (zero)
    bytes = 0;
  else if (overflow)
    return refuse_tensor(path, name, "shape " + shape_text(e.shape) + " is too large");
  const uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
  const std::string range = "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
  if (begin > end)
    return refuse_tensor(path, name, "data_offsets " + range + " end before they begin");
  if (end > data_size)
    return refuse_tensor(path, name,
                         "data_offsets " + range + " run past the end of the file (" +
                             std::to_string(data_size) + " bytes of data)");
  if (end - begin != bytes)
    return refuse_tensor(path, name,
                         "data_offsets " + range + " hold " + std::to_string(end - begin) +
                             " bytes, shape " + shape_text(e.shape) + " in " + e.dtype + " needs " +
                             std::to_string(bytes));
  e.begin = data_start + begin;
  e.end = data_start + end;
  return e;
}

} // namespace

caf::expected<safetensors_header> read_safetensors_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (!in || ec)
    return make_llmos_error(error_code::io_failed, path + ": cannot be opened for reading");
  if (file_size < 8)
    return refuse(path, "the file is " + std::to_string(file_size) +
                            " bytes, too short for the 8-byte header length (truncated header)");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | len_bytes[i];
  if (n > safetensors_max_header)
    return refuse(path, "header length " + std::to_string(n) + " is over the limit of " +
                            std::to_string(safetensors_max_header) + " bytes");
  if (n > file_size - 8)
    return refuse(path, "header length " + std::to_string(n) + " runs past the end of the " +
                            std::to_string(file_size) + "-byte file (truncated header)");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  if (!in)
    return make_llmos_error(error_code::io_failed, path + ": reading the header failed");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    return refuse(path, "the header is not valid JSON");
  if (!j.is_object())
    return refuse(path, "the header is not a JSON object");
  safetensors_header h;
  h.path = path;
  for (auto& [name, value] : j.items()) {
    if (name == "__metadata__") {
      if (!value.is_object())
        return refuse(path, "field '__metadata__': not a JSON object");
      continue;
    }
    auto e = parse_entry(path, name, value, 8 + n, file_size);
    if (!e)
      return e.error();
    h.tensors.emplace(name, std::move(*e));
  }
  return h;
}

caf::expected<std::vector<float>> read_safetensors_f32(const safetensors_header& h,
                                                       const std::string& name) {
  auto it = h.tensors.find(name);
  if (it == h.tensors.end())
    return refuse_tensor(h.path, name, "missing");
  const auto& e = it->second;
  const uint64_t esize = dtype_size(e.dtype);
  if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16")
    return refuse_tensor(h.path, name, "dtype " + e.dtype + " is not read (F32, F16, BF16 are)");
  const std::size_t count = static_cast<std::size_t>((e.end - e.begin) / esize);
  std::ifstream in(h.path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(e.begin));
  std::vector<float> out(count);
  if (esize == 4) {
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(count * 4));
  } else {
    std::vector<uint16_t> raw(count);
    in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(count * 2));
    for (std::size_t i = 0; i < count; ++i)
      out[i] = e.dtype == "F16" ? f16_to_f32(raw[i]) : bf16_to_f32(raw[i]);
  }
  if (!in)
    return make_llmos_error(error_code::io_failed, h.path + ": tensor '" + name +
                                                       "': reading its data failed (was the "
                                                       "file changed while reading?)");
  return out;
}

caf::error write_safetensors_f32(const std::string& path,
                                 const std::vector<safetensors_f32_view>& tensors) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (auto& t : tensors) {
    const uint64_t bytes = t.data.size() * sizeof(float);
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception&) {
    return refuse(path, "a tensor name is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      return make_llmos_error(error_code::io_failed, tmp + ": cannot be opened for writing");
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i)
      len_bytes[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (auto& t : tensors)
      out.write(reinterpret_cast<const char*>(t.data.data()),
                static_cast<std::streamsize>(t.data.size() * sizeof(float)));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return make_llmos_error(error_code::io_failed, tmp + ": writing failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return make_llmos_error(error_code::io_failed, path + ": cannot be replaced: " + ec.message());
  }
  return {};
}

} // namespace llmos::model
