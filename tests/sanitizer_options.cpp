// Defaults of the sanitizer builds' test programs (tests/llmos_add_test.cmake adds this file
// when LLMOS_FUZZ is on): LeakSanitizer off, as CAF and the Prometheus registry keep singletons
// until exit; every other check stays on and ends the program at its first report.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0:abort_on_error=1";
}

// ThreadSanitizer's build (tools/tsan/build.sh): the first data race ends the test program.
extern "C" const char* __tsan_default_options() {
  return "halt_on_error=1:second_deadlock_stack=1";
}

// Debian's CAF and cpp-httplib are not instrumented: they synchronise with atomics TSan cannot
// see (CAF's mailboxes and work-stealing queues, shared_ptr counts inside the libraries), so
// every actor system and every request handled inside cpp-httplib reports races that are not
// there (first run: 46 of 521 tests, all with a CAF or httplib frame). Reports with a frame in
// those libraries are suppressed; what TSan judges is llmos's own threads and what they share.
extern "C" const char* __tsan_default_suppressions() {
  return "race:libcaf_core.so\n"
         "race:libcaf_io.so\n"
         "race:libcaf_openssl.so\n"
         "race:libcpp-httplib.so\n"
         "race:caf::detail::\n";
}
