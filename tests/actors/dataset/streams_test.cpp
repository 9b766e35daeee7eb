// Batch streams as a plain class over a stored version: which records each data-parallel
// replica gets (disjoint, complete, the same for the same seed, reshuffled per epoch), how a batch
// is packed (i32 [B, max_length] token ids, padded with the tokenizer's pad id or cut), when the
// last flag comes, how credits gate a pushed stream, and the refusals of bad requests.
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <gtest/gtest.h>

#include "dataset/batch_streams.hpp"
#include "dataset/dataset_view.hpp"
#include "dataset/tokenize/byte_tokenizer.hpp"
#include "llmos/messages/error.hpp"
#include "notes_corpus.hpp"

namespace llmos::dataset {
namespace {

constexpr uint32_t max_length = 6;
constexpr auto bad_params = static_cast<uint8_t>(error_code::bad_params);

std::vector<uint32_t> sorted(std::vector<uint32_t> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

TEST(batch_order, ranks_are_disjoint_and_together_cover_the_split) {
  for (std::size_t size : {0u, 1u, 7u, 103u}) {
    for (uint32_t world : {1u, 2u, 3u, 8u}) {
      std::vector<uint32_t> all;
      for (uint32_t rank = 0; rank < world; ++rank) {
        auto mine = batch_streams::order_for(size, 11, 0, rank, world);
        // Each replica gets its share to within one record, so no rank waits on the others.
        EXPECT_LE(mine.size(), size / world + 1);
        EXPECT_GE(mine.size(), size / world);
        all.insert(all.end(), mine.begin(), mine.end());
      }
      std::vector<uint32_t> expected(size);
      for (std::size_t i = 0; i < size; ++i)
        expected[i] = static_cast<uint32_t>(i);
      EXPECT_EQ(sorted(all), expected) << "size " << size << ", world " << world;
    }
  }
}

TEST(batch_order, the_same_seed_and_epoch_give_the_same_order_and_epochs_reshuffle) {
  const auto a = batch_streams::order_for(50, 7, 0, 1, 3);
  EXPECT_EQ(batch_streams::order_for(50, 7, 0, 1, 3), a);
  const auto epoch1 = batch_streams::order_for(50, 7, 1, 1, 3);
  EXPECT_NE(epoch1, a);
  EXPECT_NE(batch_streams::order_for(50, 8, 0, 1, 3), a);
  // With one replica an epoch is a permutation of the whole split, and the next one differs.
  const auto whole0 = batch_streams::order_for(50, 7, 0, 0, 1);
  const auto whole1 = batch_streams::order_for(50, 7, 1, 0, 1);
  EXPECT_NE(whole0, whole1);
  EXPECT_EQ(sorted(whole0), sorted(whole1));
  EXPECT_EQ(whole0.size(), 50u);
}

// A stored version of 23 train, 2 validation and no test records, byte-tokenised, max_length 6.
class batch_streams_test : public ::testing::Test {
protected:
  batch_streams_test() {
    std::vector<record> records;
    std::vector<split_part> parts;
    for (int i = 0; i < 25; ++i) {
      record r;
      r.id = "r" + std::to_string(100 + i);
      // Short texts are padded, long ones cut; one is Chinese (3 bytes a character).
      r.text = i == 4
                   ? "月光下"
                   : std::string(static_cast<std::size_t>(1 + i % 9), static_cast<char>('a' + i));
      r.label = i % 3 == 0 ? "x" : "y";
      records.push_back(r);
      parts.push_back(i < 23 ? split_part::train : split_part::validation);
    }
    auto store = dataset_store::open(dir_ / "store", store_options{4});
    EXPECT_TRUE(store) << describe(store.error());
    version_metadata meta;
    meta.statistics = {{"tokenizer", {{"max_length", max_length}}}};
    byte_tokenizer tok;
    auto version = store->write("tiny", records, parts, meta, &tok);
    EXPECT_TRUE(version) << describe(version.error());
    auto view = dataset_view::load(*store, *version);
    EXPECT_TRUE(view) << describe(view.error());
    view_ = std::move(*view);
    for (const auto& r : records)
      texts_[r.id] = r.text;
  }

  ~batch_streams_test() override {
    if (consumer_)
      caf::anon_send_exit(consumer_, caf::exit_reason::kill);
  }

  stream_request request(uint32_t batch_size, uint32_t rank = 0, uint32_t world = 1) {
    stream_request req;
    req.split = "train";
    req.batch_size = batch_size;
    req.rank = rank;
    req.world = world;
    req.seed = 5;
    return req;
  }

  /// Pulls every batch of stream `id` until the last one.
  std::vector<data_batch> drain(uint64_t id) {
    std::vector<data_batch> out;
    for (int guard = 0; guard < 1000; ++guard) {
      auto b = streams_.next(view_, id);
      EXPECT_TRUE(b) << describe(b.error());
      if (!b)
        break;
      out.push_back(std::move(*b));
      if (out.back().last)
        break;
    }
    return out;
  }

  /// The row of token ids the batch holds for record `k`.
  static std::vector<int32_t> row(const data_batch& b, std::size_t k) {
    std::vector<int32_t> out(max_length);
    std::memcpy(out.data(), b.inputs.data.data() + k * max_length * sizeof(int32_t),
                max_length * sizeof(int32_t));
    return out;
  }

  /// The bytes of `text` cut to max_length, then padded with the byte tokenizer's pad id.
  static std::vector<int32_t> expected_row(const std::string& text) {
    std::vector<int32_t> out(max_length, byte_tokenizer::pad_id);
    for (std::size_t i = 0; i < text.size() && i < max_length; ++i)
      out[i] = static_cast<unsigned char>(text[i]);
    return out;
  }

  caf::actor spawn_consumer() {
    consumer_ = sys_.spawn([](caf::event_based_actor*) -> caf::behavior {
      return {[](batch_atom, const data_batch&) {}};
    });
    return consumer_;
  }

  // The system outlives the streams, which hold the consumer's handle.
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  test::temp_folder dir_{"batch_streams"};
  dataset_view view_;
  std::map<std::string, std::string> texts_;
  batch_streams streams_;
  caf::actor consumer_;
};

TEST_F(batch_streams_test, batches_are_padded_i32_rows_in_the_replicas_order_with_one_last) {
  ASSERT_EQ(view_.max_length(), max_length);
  ASSERT_EQ(view_.pad_id(), byte_tokenizer::pad_id);
  ASSERT_EQ(view_.split("train").size(), 23u);
  auto id = streams_.open(view_, request(5));
  ASSERT_TRUE(id) << describe(id.error());
  auto batches = drain(*id);
  ASSERT_EQ(batches.size(), 5u); // 5 + 5 + 5 + 5 + 3
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const auto& b = batches[i];
    const auto n = i + 1 < batches.size() ? 5u : 3u;
    EXPECT_EQ(b.stream, *id);
    EXPECT_EQ(b.seq, i);
    EXPECT_EQ(b.epoch, 0u);
    EXPECT_EQ(b.last, i + 1 == batches.size()) << "batch " << i;
    EXPECT_EQ(b.inputs.dtype, "i32");
    EXPECT_EQ(b.inputs.shape, (std::vector<int64_t>{n, max_length}));
    ASSERT_EQ(b.inputs.data.size(), n * max_length * sizeof(int32_t));
    ASSERT_EQ(b.ids.size(), n);
    ASSERT_EQ(b.labels.size(), n);
    for (std::size_t k = 0; k < n; ++k) {
      EXPECT_EQ(row(b, k), expected_row(texts_.at(b.ids[k]))) << b.ids[k];
      const auto number = std::stoi(b.ids[k].substr(1)) - 100;
      EXPECT_EQ(b.labels[k], number % 3 == 0 ? "x" : "y");
      ids.push_back(b.ids[k]);
    }
  }
  std::vector<std::string> expected;
  for (auto i : batch_streams::order_for(23, 5, 0, 0, 1))
    expected.push_back(view_.split("train")[i].id);
  EXPECT_EQ(ids, expected);
  auto after = streams_.next(view_, *id);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code(), bad_params);
}

TEST_F(batch_streams_test, every_epoch_holds_each_record_of_the_slice_once_in_a_new_order) {
  auto req = request(4, 1, 2);
  req.epochs = 3;
  auto id = streams_.open(view_, req);
  ASSERT_TRUE(id);
  std::map<uint32_t, std::vector<std::string>> by_epoch;
  const auto batches = drain(*id);
  for (const auto& b : batches) {
    EXPECT_EQ(b.last, &b == &batches.back());
    by_epoch[b.epoch].insert(by_epoch[b.epoch].end(), b.ids.begin(), b.ids.end());
  }
  ASSERT_EQ(by_epoch.size(), 3u);
  for (uint32_t e = 0; e < 3; ++e) {
    std::vector<std::string> expected;
    for (auto i : batch_streams::order_for(23, 5, e, 1, 2))
      expected.push_back(view_.split("train")[i].id);
    EXPECT_EQ(by_epoch[e], expected) << "epoch " << e;
  }
  EXPECT_NE(by_epoch[0], by_epoch[1]);
}

TEST_F(batch_streams_test, credits_gate_a_pushed_stream_and_returned_credit_reopens_it) {
  auto req = request(2);
  req.credits = 2;
  req.consumer = spawn_consumer();
  auto id = streams_.open(view_, req);
  ASSERT_TRUE(id);
  EXPECT_EQ(streams_.consumer(*id), req.consumer);
  int sent = 0;
  while (streams_.can_send(*id) && sent < 100) {
    ASSERT_TRUE(streams_.next(view_, *id));
    ++sent;
  }
  EXPECT_EQ(sent, 2);
  EXPECT_TRUE(streams_.add_credit(*id, 3));
  while (streams_.can_send(*id) && sent < 100) {
    ASSERT_TRUE(streams_.next(view_, *id));
    ++sent;
  }
  EXPECT_EQ(sent, 5);
  // Plenty of credit: the stream ends after its 12th batch (23 records, 2 a batch).
  EXPECT_TRUE(streams_.add_credit(*id, 100));
  bool last = false;
  while (streams_.can_send(*id) && sent < 100) {
    auto b = streams_.next(view_, *id);
    ASSERT_TRUE(b);
    last = b->last;
    ++sent;
  }
  EXPECT_EQ(sent, 12);
  EXPECT_TRUE(last);
  EXPECT_FALSE(streams_.can_send(*id)) << "a finished stream still has something to send";
}

TEST_F(batch_streams_test, a_slice_without_records_still_ends_with_an_empty_last_batch) {
  // 2 validation records over 3 replicas: rank 2 gets none, and must still learn it is done.
  auto req = request(4, 2, 3);
  req.split = "validation";
  req.consumer = spawn_consumer();
  auto id = streams_.open(view_, req);
  ASSERT_TRUE(id);
  ASSERT_TRUE(streams_.can_send(*id));
  auto b = streams_.next(view_, *id);
  ASSERT_TRUE(b) << describe(b.error());
  EXPECT_TRUE(b->last);
  EXPECT_TRUE(b->ids.empty());
  EXPECT_EQ(b->inputs.shape, (std::vector<int64_t>{0, max_length}));
  EXPECT_FALSE(streams_.can_send(*id));
  // The same for a split that is empty altogether (no test records), pulled.
  auto empty = request(4);
  empty.split = "test";
  auto pulled = streams_.open(view_, empty);
  ASSERT_TRUE(pulled);
  auto batches = drain(*pulled);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_TRUE(batches[0].last);
}

TEST_F(batch_streams_test, bad_requests_and_unknown_streams_are_refused) {
  auto expect_refused = [&](stream_request req, const std::string& words) {
    auto id = streams_.open(view_, req);
    ASSERT_FALSE(id);
    EXPECT_EQ(id.error().code(), bad_params);
    EXPECT_NE(describe(id.error()).find(words), std::string::npos) << describe(id.error());
  };
  auto dev = request(4);
  dev.split = "dev";
  expect_refused(dev, "split 'dev'");
  expect_refused(request(4, 2, 2), "rank 2 must be below world 2");
  expect_refused(request(4, 0, 0), "world 0");
  expect_refused(request(0), "batch_size");
  auto no_epochs = request(4);
  no_epochs.epochs = 0;
  expect_refused(no_epochs, "epochs");
  EXPECT_EQ(streams_.size(), 0u);

  auto next = streams_.next(view_, 999);
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code(), bad_params);
  EXPECT_NE(describe(next.error()).find("999"), std::string::npos);
  EXPECT_FALSE(streams_.add_credit(999, 1));
  EXPECT_FALSE(streams_.can_send(999));
  EXPECT_FALSE(streams_.consumer(999));

  auto id = streams_.open(view_, request(4));
  ASSERT_TRUE(id);
  streams_.close(*id);
  EXPECT_FALSE(streams_.next(view_, *id));
  EXPECT_EQ(streams_.size(), 0u);
}

// Clients open streams too, and each pins its version: at most `limit` are open, and one that
// nobody opened, fed or read for `idle` is dropped (here with made-up times).
TEST_F(batch_streams_test, open_streams_are_bounded_and_idle_ones_expire) {
  using namespace std::chrono_literals;
  batch_streams bounded{2, 60s};
  const auto t0 = batch_streams::clock::time_point{} + 1h;
  auto a = bounded.open(view_, request(4), t0);
  auto b = bounded.open(view_, request(4), t0 + 10s);
  ASSERT_TRUE(a && b);
  auto full = bounded.open(view_, request(4), t0 + 20s);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code(), static_cast<uint8_t>(error_code::overloaded));
  EXPECT_NE(describe(full.error()).find("2 streams are open"), std::string::npos);
  // Reading keeps `a` alive; `b` idles out and makes room.
  ASSERT_TRUE(bounded.next(view_, *a, t0 + 50s));
  EXPECT_TRUE(bounded.expire(t0 + 69s).empty());
  EXPECT_EQ(bounded.expire(t0 + 70s), std::vector<uint64_t>{*b});
  auto c = bounded.open(view_, request(4), t0 + 71s);
  ASSERT_TRUE(c);
  EXPECT_FALSE(bounded.next(view_, *b, t0 + 72s)) << "an expired stream is gone";
  // open() drops idle streams itself before it refuses.
  EXPECT_TRUE(bounded.add_credit(*c, 1, t0 + 200s));
  EXPECT_TRUE(bounded.open(view_, request(4), t0 + 201s)) << "a idled out at t0 + 110 s";
  EXPECT_EQ(bounded.size(), 2u);
}

} // namespace
} // namespace llmos::dataset
