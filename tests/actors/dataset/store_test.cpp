// Data set versions on disk: shards round-trip records byte for byte, a crash mid-write leaves
// no half version visible, a torn shard is caught by its checksum, and the version hash follows
// the content (labels, tokenizer, split) but not the input order.
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <unistd.h>

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "dataset/split/split.hpp"
#include "dataset/store/atomic_file.hpp"
#include "dataset/store/content_hash.hpp"
#include "dataset/store/dataset_store.hpp"
#include "dataset/tokenize/byte_tokenizer.hpp"
#include "dataset/tokenize/char_tokenizer.hpp"
#include "llmos/messages/error.hpp"

using namespace llmos::dataset;
namespace fs = std::filesystem;

namespace {

uint8_t code(const caf::error& e) {
  return e.code();
}

constexpr auto io_failed = static_cast<uint8_t>(llmos::error_code::io_failed);

std::vector<record> sample_records() {
  std::vector<record> out;
  const char* texts[] = {"hello world",
                         "床前明月光，疑是地上霜。",
                         "  spaces\tand\nlines  ",
                         "spam spam spam",
                         "Ünïcödé ✓ 🎉",
                         "",
                         "short"};
  const char* labels[] = {"ham", "poem", "ham", "spam", "ham", "", "spam"};
  for (int i = 0; i < 7; ++i) {
    record r;
    r.id = "text/" + std::to_string(i);
    r.text = texts[i];
    r.label = labels[i];
    r.augmented = i == 3;
    out.push_back(std::move(r));
  }
  std::mt19937 rng{7};
  for (int i = 0; i < 6; ++i) {
    record r;
    r.id = "image/" + std::to_string(i);
    r.label = i % 2 == 0 ? "shirt" : "boot";
    r.rows = 28;
    r.cols = 28;
    r.image.resize(28 * 28);
    for (auto& px : r.image)
      px = static_cast<char>(rng() & 0xFF); // includes zero bytes and 0xFF
    out.push_back(std::move(r));
  }
  return out;
}

class store_test : public ::testing::Test {
protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() /
             ("llmos_store_test_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  version_info write(const std::vector<record>& records, const tokenizer* tok,
                     uint64_t shard_records = 3, split_spec spec = {}) {
    auto store = dataset_store::open(root_, store_options{shard_records});
    EXPECT_TRUE(store);
    auto parts = assign_splits(records, spec);
    EXPECT_TRUE(parts);
    version_metadata meta;
    meta.pipeline_spec = "sources: [test]\n";
    meta.sources = {{"test", {{"records", records.size()}}}};
    auto info = store->write("demo", records, *parts, meta, tok);
    EXPECT_TRUE(info) << (info ? "" : llmos::describe(info.error()));
    return info ? *info : version_info{};
  }

  std::string root_;
};

} // namespace

TEST_F(store_test, shards_round_trip_records_byte_for_byte) {
  const auto records = sample_records();
  byte_tokenizer tok;
  auto info = write(records, &tok);
  ASSERT_EQ(info.version.size(), 32u);
  EXPECT_EQ(*list_versions(root_, "demo"), std::vector<std::string>{info.version});

  auto store = *dataset_store::open(root_);
  auto read = store.read("demo", info.version);
  ASSERT_TRUE(read) << llmos::describe(read.error());
  EXPECT_EQ(read->manifest, info.manifest);
  ASSERT_EQ(read->shards.size(), info.shards.size());
  auto loaded_tok = store.load_tokenizer(*read);
  ASSERT_TRUE(loaded_tok && *loaded_tok);
  EXPECT_EQ((*loaded_tok)->serialize(), tok.serialize());

  auto parts = *assign_splits(records, split_spec{});
  std::map<std::string, std::pair<record, split_part>> expected;
  for (std::size_t i = 0; i < records.size(); ++i)
    expected[records[i].id] = {records[i], parts[i]};
  std::size_t seen = 0;
  for (const auto& shard : read->shards) {
    EXPECT_LE(shard.records, 3u);
    auto reader = store.open_shard(*read, shard.file);
    ASSERT_TRUE(reader) << llmos::describe(reader.error());
    ASSERT_EQ(reader->size(), shard.records);
    // Zero-copy: the rows are views into the reader's one buffer, which copies share.
    const auto copy = *reader;
    EXPECT_EQ(copy.rows().front().id.data(), reader->rows().front().id.data());
    for (const auto& row : reader->rows()) {
      auto it = expected.find(std::string{row.id});
      ASSERT_NE(it, expected.end()) << row.id;
      const auto& [want, part] = it->second;
      EXPECT_EQ(shard.part, part) << row.id;
      EXPECT_EQ(row.text, want.text);
      EXPECT_EQ(row.label, want.label);
      EXPECT_EQ(row.image, want.image);
      EXPECT_EQ(row.rows, want.rows);
      EXPECT_EQ(row.cols, want.cols);
      EXPECT_EQ(row.augmented, want.augmented);
      EXPECT_EQ(row.tokens(), tok.encode(want.text));
      EXPECT_EQ(*(*loaded_tok)->decode(row.tokens()), want.text);
      ++seen;
    }
  }
  EXPECT_EQ(seen, records.size());
  EXPECT_EQ(read->manifest["records"], records.size());
  EXPECT_EQ(read->manifest["tokenizer"]["name"], "byte");
  EXPECT_EQ(read->manifest["sources"]["test"]["records"], records.size());
  EXPECT_EQ(read->manifest["splits"]["train"]["records"].get<uint64_t>() +
                read->manifest["splits"]["validation"]["records"].get<uint64_t>() +
                read->manifest["splits"]["test"]["records"].get<uint64_t>(),
            records.size());
}

TEST_F(store_test, who_gave_a_label_is_kept_and_changes_the_version) {
  auto records = sample_records();
  const std::vector<split_part> parts(records.size(), split_part::train);
  auto plain = dataset_version(records, parts, "spec", "");
  ASSERT_TRUE(plain);
  // A record without a source encodes as before sources were kept (8 fields).
  const auto old_bytes = encode_shard(std::vector<shard_row_view>{view_of(records[0], "")});
  records[0].meta["label_source"] = "human";
  const auto bytes = encode_shard(std::vector<shard_row_view>{view_of(records[0], "")});
  EXPECT_GT(bytes.size(), old_bytes.size());
  auto back = shard_reader::parse(bytes, "mem");
  ASSERT_TRUE(back) << llmos::describe(back.error());
  EXPECT_EQ(back->records()[0].meta.at("label_source"), "human");
  auto old = shard_reader::parse(old_bytes, "mem");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->records()[0].meta.count("label_source"), 0u);
  auto sourced = dataset_version(records, parts, "spec", "");
  ASSERT_TRUE(sourced);
  EXPECT_NE(*sourced, *plain);
}

TEST_F(store_test, tensors_are_stored_as_bin_not_element_lists) {
  auto records = sample_records();
  auto info = write(records, nullptr, 100, split_spec{1.0, 0.0, 0.0, 1});
  ASSERT_EQ(info.shards.size(), 1u);
  std::ifstream in{fs::path{info.path} / info.shards[0].file, std::ios::binary};
  std::string bytes{std::istreambuf_iterator<char>{in}, {}};
  auto oh = msgpack::unpack(bytes.data(), bytes.size());
  const auto& top = oh.get();
  ASSERT_EQ(top.type, msgpack::type::ARRAY);
  ASSERT_EQ(top.via.array.size, records.size());
  for (uint32_t i = 0; i < top.via.array.size; ++i) {
    const auto& m = top.via.array.ptr[i];
    ASSERT_EQ(m.type, msgpack::type::MAP);
    ASSERT_EQ(m.via.map.size, 8u);
    for (uint32_t k = 0; k < m.via.map.size; ++k) {
      const auto key = m.via.map.ptr[k].key.as<std::string>();
      if (key == "image" || key == "tokens") {
        EXPECT_EQ(m.via.map.ptr[k].val.type, msgpack::type::BIN) << key;
      }
    }
  }
  // No tokenizer: no tokenizer file, a null entry, and empty token bins.
  auto store = *dataset_store::open(root_);
  EXPECT_TRUE(store.read("demo", info.version)->manifest["tokenizer"].is_null());
  EXPECT_EQ(*store.load_tokenizer(info), nullptr);
}

TEST_F(store_test, writing_the_same_version_again_changes_nothing) {
  byte_tokenizer tok;
  auto first = write(sample_records(), &tok);
  const auto shard = fs::path{first.path} / first.shards[0].file;
  const auto stamp = fs::last_write_time(shard);
  auto second = write(sample_records(), &tok);
  EXPECT_EQ(second.version, first.version);
  EXPECT_EQ(fs::last_write_time(shard), stamp);
  EXPECT_EQ(list_versions(root_, "demo")->size(), 1u);
}

TEST_F(store_test, a_crash_before_the_manifest_leaves_no_version) {
  byte_tokenizer tok;
  auto good = write(sample_records(), &tok);
  // A crashed writer: a shard renamed into place, another still .tmp, no manifest.
  const auto crashed = fs::path{root_} / "demo" / "0123456789abcdef0123456789abcdef";
  fs::create_directories(crashed);
  fs::copy_file(fs::path{good.path} / good.shards[0].file, crashed / "train-00000.msgpack");
  std::ofstream{crashed / "train-00001.msgpack.tmp"} << "half a shard";
  EXPECT_EQ(*list_versions(root_, "demo"), std::vector<std::string>{good.version});

  // Temporaries of writers: this process (alive), a process of this host that is gone, one on
  // another host (its writer may be alive there).
  const auto alive = temporary_for(crashed / "train-00002.msgpack");
  std::ofstream{alive} << "being written";
  auto dead = alive.string();
  const auto pid = "~" + std::to_string(::getpid()) + "~";
  dead.replace(dead.find(pid), pid.size(), "~999999999~");
  std::ofstream{dead} << "its writer died";
  const auto elsewhere = crashed / "train-00003.msgpack.~other-host~1~1.tmp";
  std::ofstream{elsewhere} << "written on another host";
  EXPECT_FALSE(abandoned_temporary(alive));
  EXPECT_TRUE(abandoned_temporary(dead));
  EXPECT_FALSE(abandoned_temporary(elsewhere));

  // Opening the store removes the leftovers of dead writers; the complete version is untouched.
  ASSERT_TRUE(dataset_store::open(root_));
  EXPECT_FALSE(fs::exists(crashed / "train-00001.msgpack.tmp"));
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive)) << "a live writer's temporary was deleted";
  EXPECT_TRUE(fs::exists(elsewhere));
  EXPECT_EQ(*list_versions(root_, "demo"), std::vector<std::string>{good.version});
  auto store = *dataset_store::open(root_);
  EXPECT_FALSE(store.read("demo", "0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(store.open_shard(*store.read("demo", good.version), good.shards[0].file));
}

TEST_F(store_test, an_interrupted_version_is_rewritten_completely) {
  byte_tokenizer tok;
  auto info = write(sample_records(), &tok);
  // Simulate a crash of that very write: manifest gone, one shard torn.
  fs::remove(fs::path{info.path} / "manifest.json");
  fs::resize_file(fs::path{info.path} / info.shards[0].file, 5);
  EXPECT_TRUE(list_versions(root_, "demo")->empty());
  auto again = write(sample_records(), &tok);
  EXPECT_EQ(again.version, info.version);
  auto store = *dataset_store::open(root_);
  EXPECT_TRUE(store.open_shard(again, again.shards[0].file));
}

TEST_F(store_test, torn_or_corrupted_shards_fail_their_checksum) {
  byte_tokenizer tok;
  auto info = write(sample_records(), &tok);
  auto store = *dataset_store::open(root_);
  const auto path = fs::path{info.path} / info.shards[0].file;
  fs::resize_file(path, fs::file_size(path) / 2);
  auto torn = store.open_shard(info, info.shards[0].file);
  ASSERT_FALSE(torn);
  EXPECT_EQ(code(torn.error()), io_failed);
  EXPECT_NE(llmos::describe(torn.error()).find(info.shards[0].file), std::string::npos)
      << llmos::describe(torn.error());
  EXPECT_NE(llmos::describe(torn.error()).find("checksum"), std::string::npos);

  const auto other = fs::path{info.path} / info.shards[1].file;
  {
    std::fstream f{other, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(10);
    f.put('\x7f');
  }
  auto flipped = store.open_shard(info, info.shards[1].file);
  ASSERT_FALSE(flipped);
  EXPECT_EQ(code(flipped.error()), io_failed);
  EXPECT_FALSE(store.open_shard(info, "no-such-shard.msgpack"));
}

TEST_F(store_test, malformed_shard_bytes_are_errors_not_crashes) {
  msgpack::sbuffer nested;
  msgpack::packer<msgpack::sbuffer> pk{nested};
  for (int i = 0; i < 100; ++i)
    pk.pack_array(1);
  pk.pack_nil();
  msgpack::sbuffer wrong_type;
  msgpack::packer<msgpack::sbuffer> pk2{wrong_type};
  pk2.pack_array(1);
  pk2.pack_map(1);
  pk2.pack(std::string{"image"});
  pk2.pack(std::vector<int>{1, 2, 3}); // an element list where a bin belongs
  const auto good = encode_shard(std::vector<shard_row_view>{view_of(sample_records()[0], "")});
  for (const auto& bytes : {std::string{}, std::string{"\xdd\xff\xff\xff\xff", 5},
                            std::string{"\x91\xc1", 2}, std::string{nested.data(), nested.size()},
                            std::string{wrong_type.data(), wrong_type.size()},
                            good.substr(0, good.size() - 3), good + "x", std::string{"\x80", 1}}) {
    auto r = shard_reader::parse(bytes, "bad.msgpack");
    ASSERT_FALSE(r);
    EXPECT_EQ(code(r.error()), io_failed);
    EXPECT_NE(llmos::describe(r.error()).find("bad.msgpack"), std::string::npos);
  }
  EXPECT_TRUE(shard_reader::parse(good, "good.msgpack"));
}

TEST_F(store_test, version_follows_content_not_order) {
  const auto records = sample_records();
  byte_tokenizer byte_tok;
  auto base = write(records, &byte_tok).version;

  auto shuffled = records;
  std::mt19937 rng{3};
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  EXPECT_EQ(write(shuffled, &byte_tok).version, base);

  auto relabelled = records;
  relabelled[0].label = "spam";
  EXPECT_NE(write(relabelled, &byte_tok).version, base);

  auto repainted = records;
  repainted.back().image[100] ^= 1;
  EXPECT_NE(write(repainted, &byte_tok).version, base);

  auto char_tok =
      char_tokenizer::train(texts_of(records, *assign_splits(records, {}), split_part::train));
  ASSERT_TRUE(char_tok);
  EXPECT_NE(write(records, &*char_tok).version, base);
  EXPECT_NE(write(records, nullptr).version, base);

  // The sample's groups are tiny; with a bulk label a new seed surely moves some record.
  auto bulk = records;
  for (int i = 0; i < 40; ++i)
    bulk.push_back(
        record{"bulk/" + std::to_string(i), "bulk text", "bulk", "", 0, 0, false, {}, {}});
  const split_spec seed2{0.8, 0.1, 0.1, 2};
  ASSERT_NE(*assign_splits(bulk, {}), *assign_splits(bulk, seed2));
  EXPECT_NE(write(bulk, &byte_tok).version, write(bulk, &byte_tok, 3, seed2).version);

  auto parts = *assign_splits(records, {});
  auto with_spec = dataset_version(records, parts, "sources: [test]\n", byte_tok.serialize());
  auto other_spec = dataset_version(records, parts, "sources: [other]\n", byte_tok.serialize());
  EXPECT_EQ(*with_spec, base);
  EXPECT_NE(*other_spec, base);
  // Shard size is a layout option, not content.
  EXPECT_EQ(write(records, &byte_tok, 1000).version, base);
  EXPECT_EQ(list_versions(root_, "demo")->size(), 7u);
}

TEST_F(store_test, bad_requests_are_refused) {
  auto store = dataset_store::open(root_);
  ASSERT_TRUE(store);
  const auto records = sample_records();
  auto parts = *assign_splits(records, {});
  for (const char* name : {"", "../escape", ".hidden", "a/b"}) {
    auto r = store->write(name, records, parts, {}, nullptr);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(code(r.error()), static_cast<uint8_t>(llmos::error_code::bad_config));
    EXPECT_FALSE(list_versions(root_, name));
  }
  parts.pop_back();
  auto short_parts = store->write("demo", records, parts, {}, nullptr);
  ASSERT_FALSE(short_parts);
  EXPECT_EQ(code(short_parts.error()), static_cast<uint8_t>(llmos::error_code::bad_params));
  EXPECT_FALSE(dataset_store::open(root_, store_options{0}));
  EXPECT_FALSE(store->read("demo", "../../etc"));
  EXPECT_TRUE(list_versions(root_, "never-written")->empty());
}
