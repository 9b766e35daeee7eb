// The data set store's own files as a reader meets them on disk: a shard (msgpack rows, strings
// and bins referenced in place) and an incremental ingest's keys file (stored_keys). The first
// byte picks the file; a keys file gets its checksum appended here, so that mutations reach the
// record parser instead of stopping at the checksum.
#include <xxhash.h>

#include <string>

#include "dataset/clean/stored_keys.hpp"
#include "dataset/store/shard_reader.hpp"
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const auto body = llmos::fuzz::as_text(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    std::string bytes{body};
    const uint64_t sum = XXH3_64bits(bytes.data(), bytes.size());
    bytes.append(reinterpret_cast<const char*>(&sum), sizeof sum);
    if (auto keys = llmos::dataset::stored_keys::decode(bytes, "fuzz"))
      (void)keys->encode();
    return 0;
  }
  if (auto shard = llmos::dataset::shard_reader::parse(std::string{body}, "fuzz"))
    for (const auto& row : shard->rows()) {
      (void)row.tokens();
      (void)row.to_record();
    }
  return 0;
}
