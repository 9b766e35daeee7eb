// The dataset kind's gateway methods: ingest (with progress notifications), stats, sample,
// quarantine, and pull-mode batch streams for clients outside the actor system.
#include "gateway/dataset_methods.hpp"

#include <caf/event_based_actor.hpp>

#include "gateway/rpc_params.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"

namespace llmos {
namespace {

constexpr auto call_timeout = std::chrono::seconds(30);
// Ingesting the whole SpamAssassin set takes about a minute on one core.
constexpr auto ingest_timeout = std::chrono::minutes(30);

dataset_actor target_of(const rpc_call& c) {
  return caf::actor_cast<dataset_actor>(c.target);
}

// Reads an unsigned option with a default; bad_params names it.
caf::expected<uint64_t> uint_option(const std::map<std::string, std::string>& opts,
                                    const std::string& method, const std::string& key,
                                    uint64_t fallback) {
  auto i = opts.find(key);
  if (i == opts.end())
    return fallback;
  char* end = nullptr;
  const auto v = std::strtoull(i->second.c_str(), &end, 10);
  if (i->second.empty() || *end != '\0' || i->second[0] == '-')
    return make_llmos_error(error_code::bad_params, method + ": option '" + key +
                                                        "' must be a whole number, got '" +
                                                        i->second + "'");
  return v;
}

std::string opt(const std::map<std::string, std::string>& opts, const std::string& key,
                const std::string& fallback) {
  auto i = opts.find(key);
  return i == opts.end() ? fallback : i->second;
}

void pack_stats(packer& pk, const dataset_stats& s) {
  pk.pack_map(10);
  pk.pack("dataset").pack(s.dataset);
  pk.pack("version").pack(s.version);
  pk.pack("records").pack(s.records);
  pk.pack("train").pack(s.train);
  pk.pack("validation").pack(s.validation);
  pk.pack("test").pack(s.test);
  pk.pack("augmented").pack(s.augmented);
  pk.pack("removed").pack(s.removed);
  pk.pack("labels").pack(s.labels);
  pk.pack("report").pack(s.report);
}

std::string packed_stats(const dataset_stats& s) {
  msgpack::sbuffer buf;
  packer pk{buf};
  pack_stats(pk, s);
  return {buf.data(), buf.size()};
}

void ingest(rpc_call& c) {
  // Progress events become msgpack-RPC notifications on the caller's connection.
  auto notify = c.notify;
  auto sink = c.self->spawn([notify](caf::event_based_actor*) -> caf::behavior {
    return {
        [=](progress_atom, const progress_event& e) {
          if (!notify)
            return;
          msgpack::sbuffer buf;
          packer pk{buf};
          pk.pack_array(1);
          pk.pack_map(5);
          pk.pack("task").pack(e.task);
          pk.pack("stage").pack(e.stage);
          pk.pack("done").pack(e.done);
          pk.pack("total").pack(e.total);
          pk.pack("message").pack(e.message);
          notify("progress", std::string{buf.data(), buf.size()});
        },
    };
  });
  auto reply = c.reply;
  auto* self = c.self;
  self->request(target_of(c), ingest_timeout, ingest_atom::value, sink)
      .then(
          [=](dataset_stats& s) {
            self->send_exit(sink, caf::exit_reason::user_shutdown);
            reply(packed_stats(s));
          },
          [=](caf::error& err) {
            self->send_exit(sink, caf::exit_reason::user_shutdown);
            reply(std::move(err));
          });
}

void batch_reply(rpc_reply reply, const data_batch& b) {
  msgpack::sbuffer buf;
  packer pk{buf};
  pk.pack_map(7);
  pk.pack("stream").pack(b.stream);
  pk.pack("seq").pack(b.seq);
  pk.pack("epoch").pack(b.epoch);
  pk.pack("ids").pack(b.ids);
  pk.pack("labels").pack(b.labels);
  pk.pack("last").pack(b.last);
  pk.pack("inputs");
  pk.pack_map(3);
  pk.pack("shape").pack(b.inputs.shape);
  pk.pack("dtype").pack(b.inputs.dtype);
  pk.pack("data");
  pk.pack_bin(static_cast<uint32_t>(b.inputs.data.size()));
  pk.pack_bin_body(b.inputs.data.data(), static_cast<uint32_t>(b.inputs.data.size()));
  reply(std::string{buf.data(), buf.size()});
}

} // namespace

void add_dataset_methods(method_table& t) {
  t.add("dataset",
        {"ingest", true, "send DATASET ingest",
         "run the pipeline and store a new version (progress as notifications)", ingest});
  t.add("dataset", {"stats", false, "send DATASET stats", "statistics of the current version",
                    [](rpc_call& c) {
                      auto reply = c.reply;
                      c.self->request(target_of(c), call_timeout, stats_atom::value)
                          .then([=](dataset_stats& s) { reply(packed_stats(s)); },
                                [=](caf::error& err) { reply(std::move(err)); });
                    }});
  t.add("dataset", {"sample", false, "send DATASET sample [split=train] [n=5] [seed=1]",
                    "records of a split", [](rpc_call& c) {
                      auto opts = param_map(*c.params, 2, "sample");
                      if (!opts)
                        return c.reply(std::move(opts.error()));
                      auto n = uint_option(*opts, "sample", "n", 5);
                      auto seed = uint_option(*opts, "sample", "seed", 1);
                      if (!n || !seed)
                        return c.reply(n ? std::move(seed.error()) : std::move(n.error()));
                      auto reply = c.reply;
                      c.self
                          ->request(target_of(c), call_timeout, sample_atom::value,
                                    opt(*opts, "split", ""),
                                    static_cast<uint32_t>(std::min<uint64_t>(*n, 1000)), *seed)
                          .then(
                              [=](std::vector<data_record>& xs) {
                                msgpack::sbuffer buf;
                                packer pk{buf};
                                pk.pack_array(static_cast<uint32_t>(xs.size()));
                                for (const auto& r : xs) {
                                  pk.pack_map(6);
                                  pk.pack("id").pack(r.id);
                                  pk.pack("split").pack(r.split);
                                  pk.pack("label").pack(r.label);
                                  pk.pack("augmented").pack(r.augmented);
                                  pk.pack("text").pack(r.text);
                                  pk.pack("pixels").pack(static_cast<uint32_t>(r.image.size()));
                                }
                                reply(std::string{buf.data(), buf.size()});
                              },
                              [=](caf::error& err) { reply(std::move(err)); });
                    }});
  t.add("dataset", {"quarantine", false, "send DATASET quarantine [rule=R] [limit=20]",
                    "records the pipeline refused, with rule, reason and origin", [](rpc_call& c) {
                      auto opts = param_map(*c.params, 2, "quarantine");
                      if (!opts)
                        return c.reply(std::move(opts.error()));
                      auto limit = uint_option(*opts, "quarantine", "limit", 20);
                      if (!limit)
                        return c.reply(std::move(limit.error()));
                      auto reply = c.reply;
                      c.self
                          ->request(target_of(c), call_timeout, quarantine_atom::value,
                                    opt(*opts, "rule", ""),
                                    static_cast<uint32_t>(std::min<uint64_t>(*limit, 10000)))
                          .then(
                              [=](std::vector<quarantine_item>& xs) {
                                msgpack::sbuffer buf;
                                packer pk{buf};
                                pk.pack_array(static_cast<uint32_t>(xs.size()));
                                for (const auto& q : xs) {
                                  pk.pack_map(4);
                                  pk.pack("rule").pack(q.rule);
                                  pk.pack("reason").pack(q.reason);
                                  pk.pack("origin").pack(q.origin);
                                  pk.pack("text").pack(q.text.substr(0, 200));
                                }
                                reply(std::string{buf.data(), buf.size()});
                              },
                              [=](caf::error& err) { reply(std::move(err)); });
                    }});
  t.add("dataset",
        {"open_stream", false,
         "send DATASET open_stream [split=train] [batch_size=32] [rank=0] [world=1] [seed=1] "
         "[epochs=1]",
         "a pull stream of batches for next_batch", [](rpc_call& c) {
           auto opts = param_map(*c.params, 2, "open_stream");
           if (!opts)
             return c.reply(std::move(opts.error()));
           stream_request req;
           req.split = opt(*opts, "split", "train");
           for (auto [key, field] :
                {std::pair{"batch_size", &req.batch_size}, std::pair{"rank", &req.rank},
                 std::pair{"world", &req.world}, std::pair{"epochs", &req.epochs}}) {
             auto v = uint_option(*opts, "open_stream", key, *field);
             if (!v)
               return c.reply(std::move(v.error()));
             *field = static_cast<uint32_t>(std::min<uint64_t>(*v, UINT32_MAX));
           }
           auto seed = uint_option(*opts, "open_stream", "seed", 1);
           if (!seed)
             return c.reply(std::move(seed.error()));
           req.seed = *seed;
           auto reply = c.reply;
           c.self->request(target_of(c), call_timeout, open_stream_atom::value, std::move(req))
               .then(
                   [=](uint64_t id) {
                     msgpack::sbuffer buf;
                     msgpack::pack(buf, id);
                     reply(std::string{buf.data(), buf.size()});
                   },
                   [=](caf::error& err) { reply(std::move(err)); });
         }});
  t.add("dataset", {"next_batch", false, "send DATASET next_batch stream=ID",
                    "the next batch of a pull stream", [](rpc_call& c) {
                      auto opts = param_map(*c.params, 2, "next_batch");
                      if (!opts)
                        return c.reply(std::move(opts.error()));
                      auto id = uint_option(*opts, "next_batch", "stream", 0);
                      if (!id)
                        return c.reply(std::move(id.error()));
                      auto reply = c.reply;
                      c.self->request(target_of(c), call_timeout, next_batch_atom::value, *id)
                          .then([=](data_batch& b) { batch_reply(reply, b); },
                                [=](caf::error& err) { reply(std::move(err)); });
                    }});
}

} // namespace llmos
