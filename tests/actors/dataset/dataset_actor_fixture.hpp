// The dataset actor's test fixture: a real actor system with a notes data set (notes_corpus.hpp)
// in a folder of its own, an inbox for what actors receive, and the asks the tests make as a
// model or client would.
#pragma once

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../threaded_system.hpp"
#include "dataset/dataset_actor.hpp"
#include "dataset/tokenize/byte_tokenizer.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "llmos/messages/serving.hpp"
#include "notes_corpus.hpp"

namespace llmos::dataset_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto bad_params = static_cast<uint8_t>(error_code::bad_params);
constexpr uint32_t max_length = 48; // the notes pipeline's tokenizer

/// What an actor received, shared with the test thread.
template <class T> class inbox {
public:
  void push(T x) {
    std::lock_guard<std::mutex> guard{mu_};
    items_.push_back(std::move(x));
    cv_.notify_all();
  }

  std::vector<T> items() const {
    std::lock_guard<std::mutex> guard{mu_};
    return items_;
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> guard{mu_};
    return items_.size();
  }

  /// Waits until `done(items)` holds or `timeout` passes; its last answer.
  template <class F> bool wait(F done, std::chrono::milliseconds timeout = 5s) const {
    std::unique_lock<std::mutex> lock{mu_};
    return cv_.wait_for(lock, timeout, [&] { return done(items_); });
  }

private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<T> items_;
};

using batch_inbox = inbox<data_batch>;

inline bool has_last(const std::vector<data_batch>& xs) {
  return !xs.empty() && xs.back().last;
}

class dataset_actor_test : public ::testing::Test {
protected:
  dataset_actor spawn(const std::string& pipeline) {
    auto kind = dataset_kind();
    spawn_context ctx{sys_, "n", "ds", {{"pipeline", pipeline}}};
    auto handle = kind.spawn(ctx);
    EXPECT_TRUE(handle) << describe(handle.error());
    if (!handle)
      return {};
    spawned_.push_back(*handle);
    return caf::actor_cast<dataset_actor>(*handle);
  }

  /// One request with a timeout: the reply or the error.
  template <class T, class... Ts> caf::expected<T> ask(const dataset_actor& ds, Ts&&... xs) {
    caf::expected<T> result{caf::make_error(caf::sec::request_timeout)};
    caf::scoped_actor self{sys_};
    self->request(ds, 30s, std::forward<Ts>(xs)...)
        .receive([&](T& x) { result = std::move(x); },
                 [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  dataset_stats ingest(const dataset_actor& ds, caf::actor sink = {}) {
    auto stats = ask<dataset_stats>(ds, ingest_atom::value, std::move(sink));
    EXPECT_TRUE(stats) << describe(stats.error());
    return stats ? *stats : dataset_stats{};
  }

  /// Checks that `served` (a stats answer) describes the version `ingested` reported: the same
  /// counts by split, removals by rule and labels.
  static void expect_same_version(const dataset_stats& served, const dataset_stats& ingested) {
    EXPECT_EQ(served.version, ingested.version);
    EXPECT_EQ(served.records, ingested.records);
    EXPECT_EQ(served.train, ingested.train);
    EXPECT_EQ(served.validation, ingested.validation);
    EXPECT_EQ(served.test, ingested.test);
    EXPECT_EQ(served.removed, ingested.removed);
    EXPECT_EQ(served.labels, ingested.labels);
  }

  /// Every record of a split, by id (from the actor's samples).
  std::map<std::string, data_record> records_of(const dataset_actor& ds, const std::string& split) {
    std::map<std::string, data_record> out;
    auto xs = ask<std::vector<data_record>>(ds, sample_atom::value, split, 1000u, uint64_t{1});
    EXPECT_TRUE(xs) << describe(xs.error());
    if (xs)
      for (auto& r : *xs)
        out.emplace(r.id, r);
    return out;
  }

  /// A consumer that records every batch it receives (and returns no credit by itself).
  caf::actor spawn_consumer(std::shared_ptr<batch_inbox> box) {
    auto h = sys_.spawn([box](caf::event_based_actor*) -> caf::behavior {
      return {[=](batch_atom, const data_batch& b) { box->push(b); }};
    });
    spawned_.push_back(h);
    return h;
  }

  /// Pulls a stream opened without consumer until its last batch.
  std::vector<data_batch> pull_all(const dataset_actor& ds, uint64_t id) {
    std::vector<data_batch> out;
    for (int guard = 0; guard < 1000 && !has_last(out); ++guard) {
      auto b = ask<data_batch>(ds, next_batch_atom::value, id);
      EXPECT_TRUE(b) << describe(b.error());
      if (!b)
        break;
      out.push_back(std::move(*b));
    }
    return out;
  }

  static stream_request request(uint32_t rank, uint32_t world, uint32_t batch_size,
                                uint32_t credits, caf::actor consumer = {}) {
    stream_request req;
    req.split = "train";
    req.rank = rank;
    req.world = world;
    req.batch_size = batch_size;
    req.credits = credits;
    req.seed = 9;
    req.consumer = std::move(consumer);
    return req;
  }

  /// Checks that every row of `b` is its record's text as bytes, cut or padded to max_length.
  static void expect_rows_match(const data_batch& b, const std::map<std::string, data_record>& rs) {
    ASSERT_EQ(b.inputs.dtype, "i32");
    ASSERT_EQ(b.inputs.shape,
              (std::vector<int64_t>{static_cast<int64_t>(b.ids.size()), max_length}));
    ASSERT_EQ(b.inputs.data.size(), b.ids.size() * max_length * sizeof(int32_t));
    for (std::size_t k = 0; k < b.ids.size(); ++k) {
      auto it = rs.find(b.ids[k]);
      ASSERT_NE(it, rs.end()) << b.ids[k] << " is not in the split";
      EXPECT_EQ(b.labels[k], it->second.label);
      std::vector<int32_t> row(max_length);
      std::memcpy(row.data(), b.inputs.data.data() + k * max_length * sizeof(int32_t),
                  max_length * sizeof(int32_t));
      std::vector<int32_t> expected(max_length, dataset::byte_tokenizer::pad_id);
      const auto& text = it->second.text;
      for (std::size_t i = 0; i < text.size() && i < max_length; ++i)
        expected[i] = static_cast<unsigned char>(text[i]);
      EXPECT_EQ(row, expected) << b.ids[k];
    }
  }

  test::threaded_config cfg_;
  caf::actor_system sys_{cfg_};
  test::temp_folder dir_{"dataset_actor"};
  dataset::notes::corpus corpus_ = dataset::notes::make_corpus();
  std::string pipeline_ = dataset::notes::write_pipeline(dir_.path(), corpus_);
  test::exit_at_end spawned_;
};

} // namespace llmos::dataset_test
