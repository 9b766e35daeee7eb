#include "caf_driver.hpp"

#include <chrono>
#include <future>

#include <caf/actor_system.hpp>

namespace llmos::bench {
namespace {

using clock = std::chrono::steady_clock;

struct run_state {
  std::size_t sent = 0;
  std::size_t received = 0;
  bool failed = false;
  clock::time_point started;
  std::vector<double> samples;
  std::function<void()> next; // issues the next request; captures this state by pointer
  std::promise<void> done;
};

// Sequential: one request at a time, each timed.
void run_sequential(caf::actor_system& sys, const send_fn& send, std::size_t n, run_state& st,
                    bool record) {
  sys.spawn([&st, send, n, record](caf::event_based_actor* self) {
    st.next = [&st, send, n, record, self] {
      if (st.received == n) {
        st.done.set_value();
        self->quit();
        return;
      }
      const auto t0 = clock::now();
      send(self, [&st, t0, record](bool ok) {
        if (!ok)
          st.failed = true;
        if (record)
          st.samples.push_back(
              std::chrono::duration<double, std::micro>(clock::now() - t0).count());
        ++st.received;
        st.next();
      });
    };
    st.next();
  });
  st.done.get_future().wait();
}

// Pipelined: keep `window` requests in flight until n have been answered.
void run_pipelined(caf::actor_system& sys, const send_fn& send, std::size_t n, std::size_t window,
                   run_state& st) {
  sys.spawn([&st, send, n, window](caf::event_based_actor* self) {
    st.started = clock::now();
    st.next = [&st, send, n, self] {
      if (st.sent == n)
        return;
      ++st.sent;
      send(self, [&st, n, self](bool ok) {
        // Every request is answered or fails; finish once all n are accounted for.
        if (!ok)
          st.failed = true;
        if (++st.received == n) {
          st.done.set_value();
          self->quit();
          return;
        }
        st.next();
      });
    };
    for (std::size_t i = 0; i < window && i < n; ++i)
      st.next();
  });
  st.done.get_future().wait();
}

} // namespace

path_result measure_caf(caf::actor_system& sys, send_fn send, std::size_t n, std::size_t window,
                        std::size_t warmup) {
  path_result r;
  {
    run_state warm;
    run_sequential(sys, send, warmup, warm, false);
    if (warm.failed) {
      r.note = "requests failed";
      return r;
    }
  }
  run_state seq;
  run_sequential(sys, send, n, seq, true);
  run_state pipe;
  run_pipelined(sys, send, n, window, pipe);
  if (seq.failed || pipe.failed) {
    r.note = "requests failed";
    return r;
  }
  const double secs = std::chrono::duration<double>(clock::now() - pipe.started).count();
  r.p50_us = percentile(seq.samples, 0.5);
  r.p99_us = percentile(seq.samples, 0.99);
  r.rps = static_cast<double>(n) / secs;
  r.ok = true;
  return r;
}

} // namespace llmos::bench
