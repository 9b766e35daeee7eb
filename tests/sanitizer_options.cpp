// Defaults of the sanitizer build's test programs (tests/llmos_add_test.cmake adds this file
// when LLMOS_FUZZ is on): LeakSanitizer off, as CAF and the Prometheus registry keep singletons
// until exit; every other check stays on and ends the program at its first report.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0:abort_on_error=1";
}
