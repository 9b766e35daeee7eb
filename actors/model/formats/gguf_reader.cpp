// read_gguf: map the file, walk header, metadata and tensor infos with every size checked
// against the file, then dequantise each tensor to float32 and validate the whole model.
#include "model/formats/gguf_reader.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "llmos/messages/error.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/gguf_llama_keys.hpp"
#include "model/formats/half_float.hpp"

namespace llmos::model {

namespace {

using gguf::byte_cursor;

struct tensor_info {
  std::string name;
  std::vector<int64_t> shape; ///< row-major: ne reversed
  uint32_t type = 0;
  uint64_t offset = 0; ///< within the data section
  uint64_t numel = 0;
  uint64_t bytes = 0;
};

caf::error refuse(const std::string& where, const std::string& what) {
  return make_llmos_error(error_code::bad_config, where + ": " + what);
}

/// Reads tensor info `index` of `count`; every size is bounded by the file's `file_size`.
caf::error read_tensor_info(byte_cursor& in, uint64_t index, uint64_t count, uint64_t file_size,
                            const std::string& where, tensor_info& t) {
  std::string_view name;
  if (!in.read_string(name))
    return refuse(where, "truncated: tensor info " + std::to_string(index) + " of " +
                             std::to_string(count) + " runs past the end of the file");
  t.name = std::string{name};
  const auto bad = [&](const std::string& what) {
    return refuse(where, "tensor '" + t.name + "': " + what);
  };
  uint32_t n_dims = 0;
  if (!in.read(n_dims))
    return bad("truncated: its info runs past the end of the file");
  if (n_dims == 0 || n_dims > gguf::max_dims)
    return bad("has " + std::to_string(n_dims) + " dimensions; ggml allows 1 to 4");
  uint64_t ne[gguf::max_dims] = {};
  t.numel = 1;
  for (uint32_t i = 0; i < n_dims; ++i) {
    if (!in.read(ne[i]))
      return bad("truncated: its info runs past the end of the file");
    // Every type read here spends at least a byte per value, so more values than the file has
    // bytes is refused before any product can overflow.
    if (ne[i] > file_size || (ne[i] != 0 && t.numel > file_size / ne[i]))
      return bad("dimension " + std::to_string(i) + " of " + std::to_string(ne[i]) +
                 " makes it larger than the file (" + std::to_string(file_size) +
                 " bytes; truncated?)");
    t.numel *= ne[i];
  }
  for (uint32_t i = n_dims; i-- > 0;)
    t.shape.push_back(static_cast<int64_t>(ne[i]));
  if (!in.read(t.type) || !in.read(t.offset))
    return bad("truncated: its info runs past the end of the file");
  switch (t.type) {
  case gguf::type_f32:
    t.bytes = t.numel * 4;
    break;
  case gguf::type_f16:
  case gguf::type_bf16:
    t.bytes = t.numel * 2;
    break;
  case gguf::type_q8_0:
    if (ne[0] % gguf::q8_0_block != 0)
      return bad("Q8_0 rows of " + std::to_string(ne[0]) + " values are not whole blocks of 32");
    t.bytes = t.numel / gguf::q8_0_block * gguf::q8_0_block_bytes;
    break;
  default: {
    const auto name_of = gguf::ggml_type_name(t.type);
    return bad("tensor type " + std::to_string(t.type) +
               (name_of.empty() ? std::string{} : " (" + std::string{name_of} + ")") +
               " is not supported; llmos reads F32, F16, BF16 and Q8_0 (re-quantise with "
               "llama.cpp's llama-quantize --allow-requantize MODEL OUT Q8_0)");
  }
  }
  return {};
}

/// Decodes `t` from `p` (t.bytes long) into float32.
void decode(const unsigned char* p, const tensor_info& t, float* out) {
  const uint64_t n = t.numel;
  if (t.type == gguf::type_f32) {
    std::memcpy(out, p, n * 4);
    return;
  }
  uint16_t h = 0;
  if (t.type == gguf::type_f16 || t.type == gguf::type_bf16) {
    const bool f16 = t.type == gguf::type_f16;
    for (uint64_t i = 0; i < n; ++i) {
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = f16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    return;
  }
  for (uint64_t b = 0; b < n / gguf::q8_0_block; ++b) {
    const unsigned char* block = p + b * gguf::q8_0_block_bytes;
    std::memcpy(&h, block, 2);
    const float d = f16_to_f32(h);
    for (uint64_t j = 0; j < gguf::q8_0_block; ++j)
      out[b * gguf::q8_0_block + j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
  }
}

/// A read-only mapping of a whole file, unmapped when it goes out of scope.
struct mapped_file {
  void* addr = MAP_FAILED;
  std::size_t size = 0;
  mapped_file() = default;
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file() {
    if (addr != MAP_FAILED)
      munmap(addr, size);
  }
  std::string_view bytes() const {
    return addr == MAP_FAILED ? std::string_view{}
                              : std::string_view{static_cast<const char*>(addr), size};
  }
};

caf::error map_file(const std::string& path, mapped_file& m) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_llmos_error(error_code::io_failed,
                            path + ": cannot be opened for reading: " + std::strerror(errno));
  struct stat st {};
  caf::error err;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    err = make_llmos_error(error_code::io_failed, path + ": not a regular file");
  } else if (st.st_size > 0) {
    m.size = static_cast<std::size_t>(st.st_size);
    m.addr = ::mmap(nullptr, m.size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m.addr == MAP_FAILED)
      err = make_llmos_error(error_code::io_failed,
                             path + ": cannot be mapped: " + std::strerror(errno));
  }
  ::close(fd);
  return err;
}

/// The magic, the version (3) and the counts of tensors and metadata entries.
caf::error read_header(byte_cursor& in, std::string_view bytes, const std::string& where,
                       uint64_t& n_tensors, uint64_t& n_kv) {
  if (bytes.substr(0, 4) != std::string_view{gguf::magic, bytes.size() < 4 ? bytes.size() : 4})
    return refuse(where, "not a GGUF file: it does not start with the magic 'GGUF'");
  if (!in.skip(4))
    return refuse(where, "truncated: " + std::to_string(bytes.size()) +
                             " bytes, too short for a GGUF header");
  uint32_t version = 0;
  if (!in.read(version))
    return refuse(where, "truncated: the header runs past the end of the file");
  if (version != gguf::version)
    return refuse(where, "GGUF version " + std::to_string(version) +
                             " is not supported; llmos reads version 3 (convert the model "
                             "again with a current llama.cpp)");
  if (!in.read(n_tensors) || !in.read(n_kv))
    return refuse(where, "truncated: the header runs past the end of the file");
  return caf::none;
}

/// general.alignment: a power of two up to 2^30 (32 when absent).
caf::expected<uint64_t> read_alignment(const gguf::metadata& md) {
  auto alignment = md.integer(gguf::key::alignment, gguf::default_alignment);
  if (!alignment)
    return alignment.error();
  if (*alignment <= 0 || *alignment > (int64_t{1} << 30) || (*alignment & (*alignment - 1)))
    return md.refuse(gguf::key::alignment,
                     std::to_string(*alignment) + " is not a power of two up to 2^30");
  return static_cast<uint64_t>(*alignment);
}

/// Every tensor's data is aligned and inside the file's data section (from `data_start`).
caf::error check_placement(const std::vector<tensor_info>& infos, uint64_t data_start,
                           std::size_t file_size, uint64_t align, const std::string& where) {
  const uint64_t avail = data_start <= file_size ? file_size - data_start : 0;
  for (auto& t : infos) {
    if (t.offset % align != 0)
      return refuse(where, "tensor '" + t.name + "': offset " + std::to_string(t.offset) +
                               " is not a multiple of the alignment " + std::to_string(align));
    if (t.offset > avail || t.bytes > avail - t.offset)
      return refuse(where, "tensor '" + t.name + "': its " + std::to_string(t.bytes) +
                               " bytes at offset " + std::to_string(t.offset) +
                               " of the data section run past the end of the file (" +
                               std::to_string(file_size) + " bytes; truncated?)");
  }
  return caf::none;
}

} // namespace

caf::expected<llama_weights> parse_gguf(std::string_view bytes, const std::string& where) {
  byte_cursor in{bytes};
  uint64_t n_tensors = 0, n_kv = 0;
  if (auto err = read_header(in, bytes, where, n_tensors, n_kv))
    return err;
  gguf::metadata md;
  if (auto err = md.parse(in, n_kv, bytes, where))
    return err;
  auto alignment = read_alignment(md);
  if (!alignment)
    return alignment.error();
  const auto align = *alignment;
  // No reserve(n_tensors): each info spends at least 32 bytes, so the loop is bounded by the
  // file whatever the header claims.
  std::vector<tensor_info> infos;
  std::map<std::string, std::size_t> index;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    tensor_info t;
    if (auto err = read_tensor_info(in, i, n_tensors, bytes.size(), where, t))
      return err;
    if (!index.emplace(t.name, infos.size()).second)
      return refuse(where, "tensor '" + t.name + "': appears twice");
    infos.push_back(std::move(t));
  }
  const uint64_t data_start = (in.pos() + align - 1) / align * align;
  if (auto err = check_placement(infos, data_start, bytes.size(), align, where))
    return err;
  llama_weights w;
  auto config = gguf::read_llama_config(md, index.count("output.weight") == 0);
  if (!config)
    return config.error();
  // validate() lists every tensor the configuration needs: bound block_count by the file's own
  // tensors (9 per block) first, or a hostile count up to 2^24 would list 150 million names.
  if (config->n_layers > static_cast<int64_t>(infos.size() / 9))
    return md.refuse(gguf::key::block_count, "says " + std::to_string(config->n_layers) +
                                                 " blocks of 9 tensors; the file holds " +
                                                 std::to_string(infos.size()) + " tensors");
  auto vocab = gguf::read_llama_vocab(md);
  if (!vocab)
    return vocab.error();
  w.config = *config;
  w.vocab = std::move(*vocab);
  if (md.has(gguf::key::chat_template)) {
    auto tmpl = md.text(gguf::key::chat_template);
    if (!tmpl)
      return tmpl.error();
    w.chat_template = std::move(*tmpl);
  }
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  for (auto& t : infos) {
    f32_tensor out;
    out.shape = t.shape;
    out.data.resize(t.numel);
    if (t.numel > 0) // an empty tensor may sit at data_start past the end: form no pointer
      decode(data + data_start + t.offset, t, out.data.data());
    w.tensors.emplace(t.name, std::move(out));
  }
  if (auto err = validate(w, where))
    return err;
  return w;
}

caf::expected<llama_weights> read_gguf(const std::string& path) {
  mapped_file file;
  if (auto err = map_file(path, file))
    return err;
  auto w = parse_gguf(file.bytes(), path);
  if (!w)
    return w;
  auto sha = sha256_file(path);
  if (!sha)
    return sha.error();
  w->source = path;
  w->source_sha256 = std::move(*sha);
  w->format = "gguf";
  return w;
}

} // namespace llmos::model
