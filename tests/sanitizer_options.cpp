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

// Debian's cpp-httplib is not instrumented: it synchronises with atomics TSan cannot see
// (shared_ptr counts and its task queue inside the library), so requests handled inside it
// report races that are not there. Reports with a frame in it are suppressed. CAF is built
// under TSan for this build (tools/tsan/caf.sh) and judged like llmos's own code; with
// Debian's CAF, 46 of 521 tests reported races inside it.
// LibTorch (Debian's, uninstrumented) likewise: its tensors' reference counts and allocator
// synchronise inside libc10 and libtorch_cpu.
extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\nrace:libc10.so\nrace:libtorch_cpu.so\n";
}
