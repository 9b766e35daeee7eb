// The keys file of an incremental ingest (stored_keys.hpp): what is written reads back the same,
// band keys match what lsh_index buckets, and a damaged file (cut short, a flipped byte, a lying
// header) is refused with its name, never trusted or over-allocated.
#include "dataset/clean/stored_keys.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <xxhash.h>

#include "dataset/clean/exact_dedupe.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {
namespace {

using ::testing::HasSubstr;

std::vector<record> three() {
  std::vector<record> out(3);
  out[0].id = "a:1";
  out[0].text = "the quick brown fox jumps over the lazy dog";
  out[1].id = "a:2";
  out[1].text = "The quick brown fox jumps over the lazy dog!";
  out[2].id = "b:\xE4\xB8\xAD";
  out[2].text = "";
  return out;
}

TEST(stored_keys_test, round_trips_and_matches_the_rules_hashes) {
  const auto keys = compute_stored_keys(three(), near_dedupe_options{});
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys.bands, 16u);
  EXPECT_EQ(keys.exact[0], dedupe_hash(three()[0].text));
  EXPECT_EQ(keys.exact[0], keys.exact[1]) << "the same dedupe key";
  EXPECT_EQ(std::vector<uint64_t>(keys.band_keys.begin(), keys.band_keys.begin() + 16),
            std::vector<uint64_t>(keys.band_keys.begin() + 16, keys.band_keys.begin() + 32));
  EXPECT_EQ(keys.band_keys[32], 0u) << "an empty text never shares a band";
  auto back = stored_keys::decode(keys.encode(), "k");
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->ids, keys.ids);
  EXPECT_EQ(back->exact, keys.exact);
  EXPECT_EQ(back->band_keys, keys.band_keys);
  EXPECT_EQ(back->fingerprint, keys.fingerprint);
  auto more = keys;
  EXPECT_TRUE(more.append(keys));
  EXPECT_EQ(more.size(), 6u);
  near_dedupe_options other;
  other.seed = 9;
  EXPECT_FALSE(more.append(compute_stored_keys(three(), other))) << "other options";
  EXPECT_EQ(compute_stored_keys(three(), std::nullopt).bands, 0u);
}

TEST(stored_keys_test, a_damaged_file_is_refused_with_its_name) {
  const auto bytes = compute_stored_keys(three(), near_dedupe_options{}).encode();
  auto cut = stored_keys::decode(bytes.substr(0, bytes.size() - 20), "keys-00001.bin");
  ASSERT_FALSE(cut);
  EXPECT_THAT(describe(cut.error()), HasSubstr("keys-00001.bin"));
  auto flipped = bytes;
  flipped[40] ^= 0x10;
  auto bad = stored_keys::decode(flipped, "k");
  ASSERT_FALSE(bad);
  EXPECT_THAT(describe(bad.error()), HasSubstr("checksum"));
  EXPECT_FALSE(stored_keys::decode("not keys at all, not at all, no", "k"));
  // A header claiming billions of records, checksum made right: refused before allocating.
  stored_keys liar;
  auto text = liar.encode();
  text.replace(24, 8, std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8));
  text.resize(text.size() - 8);
  const uint64_t sum = XXH3_64bits(text.data(), text.size());
  text.append(reinterpret_cast<const char*>(&sum), 8);
  auto lie = stored_keys::decode(text, "k");
  ASSERT_FALSE(lie);
  EXPECT_THAT(describe(lie.error()), HasSubstr("impossible header"));
}

} // namespace
} // namespace llmos::dataset
