// llmos-chaos: kills nodes and actors of a loopback cluster under load and checks what held
// (tools/chaos/chaos_run.hpp). Exit 0 when every check held; the report is JSON.
//   llmos-chaos [--seconds 60] [--interval-ms 4000] [--seed 1] [--no-seed-kills] [--keep DIR]
//               [--json FILE]
#include <fstream>
#include <iostream>
#include <string>

#include "chaos_run.hpp"

int main(int argc, char** argv) {
  llmos::chaos::chaos_options o;
  std::string json_file;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "llmos-chaos: " << key << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (key == "--seconds")
        o.seconds = std::stoi(value());
      else if (key == "--interval-ms")
        o.interval_ms = std::stoi(value());
      else if (key == "--seed")
        o.seed = std::stoull(value());
      else if (key == "--no-seed-kills")
        o.kill_seed = false;
      else if (key == "--keep")
        o.keep_dir = value();
      else if (key == "--json")
        json_file = value();
      else {
        std::cerr << "llmos-chaos: unknown option " << key << "\n";
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "llmos-chaos: " << key << " takes a number\n";
      return 2;
    }
  }
  if (o.seconds < 1 || o.seconds > 3600 || o.interval_ms < 100) {
    std::cerr << "llmos-chaos: --seconds is 1..3600 and --interval-ms at least 100\n";
    return 2;
  }
  const auto report = llmos::chaos::run(o);
  std::cout << report.dump(2) << "\n";
  if (!json_file.empty())
    std::ofstream(json_file) << report.dump(2) << "\n";
  return report.value("held", false) ? 0 : 1;
}
