// Batches across processes: an llmos-node process hosts a dataset actor, ingested through its
// gateway as a client would; this test process joins the cluster as a second node (embedded
// llmos::node), finds the dataset through the directory and streams its training split to two
// local consumers, the two ranks of a data-parallel job. The remote dataset sends only as many
// batches as a consumer has returned credit for, and the two ranks together get every record
// once.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster_harness.hpp"
#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/node/node.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "llmos/runtime/topology.hpp"
#include "solo_node.hpp"

namespace {

using namespace llmos::test;
using nlohmann::json;
using namespace std::chrono_literals;

/// The batches one consumer received, shared with the test thread.
class batch_inbox {
public:
  void push(llmos::data_batch b) {
    std::lock_guard<std::mutex> guard{mu_};
    batches_.push_back(std::move(b));
    cv_.notify_all();
  }

  std::vector<llmos::data_batch> batches() const {
    std::lock_guard<std::mutex> guard{mu_};
    return batches_;
  }

  /// Waits until `n` batches (or the last one) arrived; how many there are then.
  std::size_t wait_for(std::size_t n, std::chrono::milliseconds timeout = 5s) const {
    std::unique_lock<std::mutex> lock{mu_};
    cv_.wait_for(lock, timeout, [&] {
      return batches_.size() >= n || (!batches_.empty() && batches_.back().last);
    });
    return batches_.size();
  }

  bool done() const {
    std::lock_guard<std::mutex> guard{mu_};
    return !batches_.empty() && batches_.back().last;
  }

private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<llmos::data_batch> batches_;
};

/// 40 labelled records, nothing to clean: 32 of them train.
std::string records_jsonl() {
  static const char* words[] = {"river",  "garden", "window", "market", "silver",
                                "engine", "forest", "bright", "quiet",  "simple"};
  std::string out;
  for (int i = 0; i < 40; ++i) {
    const std::string text = std::string{"record "} + std::to_string(i) + " " + words[i % 10] +
                             " " + words[(i / 10 + 3) % 10];
    out += json{{"text", text}, {"label", i % 2 == 0 ? "even" : "odd"}}.dump() + "\n";
  }
  return out;
}

class dataset_stream_test : public testing::Test {
protected:
  void SetUp() override {
    write_file(dir_ / "records.jsonl", records_jsonl());
    write_file(dir_ / "pipeline.yaml", "dataset: stream\n"
                                       "root: store\n"
                                       "sources:\n"
                                       "  - {name: records, kind: jsonl, path: records.jsonl,\n"
                                       "     options: {label_field: label}}\n"
                                       "split: {train: 0.8, validation: 0.1, test: 0.1}\n"
                                       "tokenizer: {kind: byte, max_length: 16}\n");
    const auto ports = llmos::test::free_ports(3);
    rpc_port_ = ports[1];
    topology_ = dir_ / "topology.yaml";
    write_file(topology_,
               "cluster: stream\n" + llmos::test::fast_heartbeat + "nodes:\n" +
                   llmos::test::node_entry(
                       "data", ports[0], ports[1], 0,
                       "      - {name: ds, kind: dataset, config: {pipeline: pipeline.yaml}}\n") +
                   "  - name: consumer\n    host: 127.0.0.1\n    port: " +
                   std::to_string(ports[2]) + "\n");
    data_node_ = llmos::test::start_node(topology_, "data");
    ASSERT_TRUE(wait_until(
        [&] {
          llmos::rpc::client c;
          if (!data_node_.running() || c.connect("127.0.0.1", rpc_port_, 1s))
            return !data_node_.running();
          auto pong = c.call("ping", json::array(), 2s);
          return pong && pong->ok;
        },
        10s, 50ms));
    ASSERT_TRUE(data_node_.running()) << log();
  }

  void TearDown() override {
    // The node's system waits for every actor: the consumers must go first, or a failed
    // assertion would leave the test hanging in the node's destructor.
    for (auto& c : consumers_)
      caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
    consumers_.clear();
    node_.reset();
    if (HasFailure())
      std::cerr << "---- log of node data ----\n" << log();
  }

  std::string log() const { return llmos::test::read_file(dir_ / "data.log"); }

  /// A consumer that records each batch and, when `ds` is set, returns a credit for each.
  caf::actor spawn_consumer(caf::actor_system& sys, std::shared_ptr<batch_inbox> box,
                            llmos::dataset_actor ds = {}) {
    auto h = sys.spawn([box, ds](caf::event_based_actor* self) -> caf::behavior {
      return {[=](llmos::batch_atom, const llmos::data_batch& b) {
        box->push(b);
        if (ds)
          self->send(ds, llmos::credit_atom::value, b.stream, uint32_t{1});
      }};
    });
    consumers_.push_back(h);
    return h;
  }

  static llmos::stream_request request(uint32_t rank, caf::actor consumer) {
    llmos::stream_request req;
    req.split = "train";
    req.rank = rank;
    req.world = 2;
    req.batch_size = 3;
    req.credits = 1;
    req.seed = 4;
    req.consumer = std::move(consumer);
    return req;
  }

  temp_dir dir_{"dataset_stream"};
  std::filesystem::path topology_;
  uint16_t rpc_port_ = 0;
  child_process data_node_;
  std::unique_ptr<llmos::node> node_; ///< this process as the node "consumer"
  std::vector<caf::actor> consumers_;
};

TEST_F(dataset_stream_test, two_ranks_stream_a_remote_split_with_credit_across_processes) {
  // Ingest through the gateway, as a client would.
  llmos::rpc::client client;
  ASSERT_FALSE(client.connect("127.0.0.1", rpc_port_));
  auto ingested = client.call("send", json::array({"ds", "ingest", json::object()}), 60s);
  ASSERT_TRUE(ingested) << llmos::describe(ingested.error());
  ASSERT_TRUE(ingested->ok) << ingested->value.dump();
  const auto train = ingested->value.value("train", uint64_t{0});
  ASSERT_EQ(ingested->value.value("records", uint64_t{0}), 40u);
  ASSERT_GE(train, 20u);
  // The statistics arrive as an object, not as JSON inside a string.
  ASSERT_TRUE(ingested->value["report"].is_object()) << ingested->value.dump();

  // This process is the cluster's second node.
  const auto kinds = llmos::builtin_actor_kinds();
  auto topo = llmos::load_topology(topology_.string(), kinds);
  ASSERT_TRUE(topo) << llmos::describe(topo.error());
  auto started = llmos::node::start(*topo, "consumer");
  ASSERT_TRUE(started) << llmos::describe(started.error());
  node_ = std::move(*started);
  auto& sys = node_->system();
  caf::scoped_actor self{sys};
  llmos::dataset_actor ds;
  ASSERT_TRUE(wait_until(
      [&] {
        self->request(node_->manager(), 2s, llmos::get_atom::value, llmos::directory_atom::value)
            .receive(
                [&](llmos::directory_actor& dir) {
                  self->request(dir, 2s, llmos::lookup_atom::value, std::string{"ds"})
                      .receive(
                          [&](llmos::actor_entry& e) {
                            ds = caf::actor_cast<llmos::dataset_actor>(e.handle);
                          },
                          [](caf::error&) {});
                },
                [](caf::error&) {});
        return static_cast<bool>(ds);
      },
      10s, 100ms))
      << "'ds' never appeared in the directory";

  std::set<std::string> train_ids;
  self->request(ds, 10s, llmos::sample_atom::value, std::string{"train"}, 1000u, uint64_t{1})
      .receive(
          [&](std::vector<llmos::data_record>& xs) {
            for (const auto& r : xs)
              train_ids.insert(r.id);
          },
          [&](caf::error& err) { ADD_FAILURE() << llmos::describe(err); });
  ASSERT_EQ(train_ids.size(), train);

  // Rank 0 returns credit only when the test says so; rank 1 returns one per batch.
  auto box0 = std::make_shared<batch_inbox>();
  auto box1 = std::make_shared<batch_inbox>();
  auto open = [&](uint32_t rank, caf::actor consumer) {
    uint64_t id = 0;
    self->request(ds, 10s, llmos::open_stream_atom::value, request(rank, std::move(consumer)))
        .receive([&](uint64_t x) { id = x; },
                 [&](caf::error& err) { ADD_FAILURE() << llmos::describe(err); });
    return id;
  };
  const auto id0 = open(0, spawn_consumer(sys, box0));
  const auto id1 = open(1, spawn_consumer(sys, box1, ds));
  ASSERT_NE(id0, 0u);
  ASSERT_NE(id1, 0u);
  for (std::size_t n = 1; n <= 3; ++n) {
    ASSERT_EQ(box0->wait_for(n), n);
    std::this_thread::sleep_for(n == 1 ? 300ms : 150ms);
    EXPECT_EQ(box0->batches().size(), n) << "a batch beyond the credit crossed the network";
    caf::anon_send(ds, llmos::credit_atom::value, id0, uint32_t{1});
  }
  caf::anon_send(ds, llmos::credit_atom::value, id0, uint32_t{100});
  EXPECT_TRUE(wait_until([&] { return box0->done() && box1->done(); }, 10s))
      << "rank 0 got " << box0->batches().size() << " batches, rank 1 " << box1->batches().size();

  // Every batch in order, packed as i32 [n, max_length], ids of its rank's slice.
  auto ids_of = [](const batch_inbox& box, uint64_t stream) {
    std::multiset<std::string> ids;
    const auto batches = box.batches();
    for (std::size_t i = 0; i < batches.size(); ++i) {
      const auto& b = batches[i];
      EXPECT_EQ(b.stream, stream);
      EXPECT_EQ(b.seq, i);
      EXPECT_EQ(b.inputs.dtype, "i32");
      EXPECT_EQ(b.inputs.shape, (std::vector<int64_t>{static_cast<int64_t>(b.ids.size()), 16}));
      EXPECT_EQ(b.inputs.data.size(), b.ids.size() * 16 * sizeof(int32_t));
      ids.insert(b.ids.begin(), b.ids.end());
    }
    return ids;
  };
  const auto ids0 = ids_of(*box0, id0);
  const auto ids1 = ids_of(*box1, id1);
  EXPECT_EQ(ids0.size(), (train + 1) / 2);
  EXPECT_EQ(ids1.size(), train / 2);
  std::set<std::string> both;
  for (const auto* ids : {&ids0, &ids1})
    for (const auto& x : *ids)
      EXPECT_TRUE(both.insert(x).second) << x << " went to both ranks (or twice to one)";
  EXPECT_EQ(both, train_ids);
}

} // namespace
