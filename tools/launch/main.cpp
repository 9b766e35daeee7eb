// llmos-launch TOPOLOGY [--bin-dir DIR] [-- extra node args]: starts every node of a topology on
// this host as an llmos-node child process, relays their output line by line with a [NAME]
// prefix and stops them all on Ctrl-C or SIGTERM. A development tool: in production each node
// runs under its host's own supervisor.
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/program_options.hpp>
#include <unistd.h>

#include "launcher.hpp"
#include "llmos/actors/builtin_kinds.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/topology.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

constexpr int exit_usage = 2;

void print_usage(std::ostream& os, const po::options_description& options) {
  os << "usage: llmos-launch TOPOLOGY [--bin-dir DIR] [-- extra node args]\n\n"
        "Starts every node of TOPOLOGY on this host as\n"
        "  llmos-node --topology TOPOLOGY --node NAME [extra node args]\n"
        "prefixes each line the nodes print with [NAME], and stops them on Ctrl-C or SIGTERM\n"
        "(SIGTERM, then SIGKILL after 15 s). A node that dies on its own is reported and the\n"
        "others keep running.\n\n"
     << options;
}

// The folder of this executable, so that an installed or freshly built launcher finds the
// llmos-node next to it regardless of the current directory.
fs::path own_folder() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path{"."} : exe.parent_path();
}

/// The command line: the topology, where llmos-node is, and what follows "--" for the nodes.
struct launch_args {
  std::string topology_path;
  fs::path bin_dir;
  std::vector<std::string> node_args;
};

/// Reads the command line; an exit code when the program ends here (help, bad options).
std::optional<int> parse_args(int argc, char** argv, launch_args& a) {
  // Everything after "--" belongs to the nodes, so it is cut off before Boost sees it.
  int own_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view{argv[i]} == "--") {
      own_argc = i;
      a.node_args.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  po::options_description visible{"Options"};
  visible.add_options()("help,h", "print this help and exit")(
      "bin-dir", po::value<std::string>(),
      "folder holding llmos-node (default: the folder of llmos-launch)");
  po::options_description all;
  all.add(visible).add_options()("topology", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("topology", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(own_argc, argv).options(all).positional(positional).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "llmos-launch: " << e.what() << "\n\n";
    print_usage(std::cerr, visible);
    return exit_usage;
  }
  if (vm.count("help")) {
    print_usage(std::cout, visible);
    return 0;
  }
  if (!vm.count("topology")) {
    std::cerr << "llmos-launch: missing the topology file\n\n";
    print_usage(std::cerr, visible);
    return exit_usage;
  }
  a.topology_path = vm["topology"].as<std::string>();
  a.bin_dir = vm.count("bin-dir") ? fs::path{vm["bin-dir"].as<std::string>()} : own_folder();
  return std::nullopt;
}

} // namespace

int main(int argc, char** argv) {
  launch_args a;
  if (auto exit_code = parse_args(argc, argv, a))
    return *exit_code;
  auto kinds = llmos::builtin_actor_kinds();
  auto topology = llmos::load_topology(a.topology_path, kinds);
  if (!topology) {
    std::cerr << "llmos-launch: " << llmos::describe(topology.error()) << '\n';
    return exit_usage;
  }
  if (topology->nodes.empty()) {
    std::cerr << "llmos-launch: " << a.topology_path << " declares no nodes; add one under nodes\n";
    return exit_usage;
  }
  auto node_program = (a.bin_dir / "llmos-node").string();
  if (::access(node_program.c_str(), X_OK) != 0) {
    std::cerr << "llmos-launch: no executable llmos-node at " << node_program
              << "; build it or point --bin-dir at the folder that holds it\n";
    return exit_usage;
  }
  std::vector<llmos::launch_child> children;
  for (const auto& node : topology->nodes) {
    std::vector<std::string> args{node_program, "--topology", a.topology_path, "--node", node.name};
    args.insert(args.end(), a.node_args.begin(), a.node_args.end());
    children.push_back({node.name, std::move(args)});
  }
  llmos::launcher launcher{std::move(children), std::cout, std::cerr};
  // Installed before start() so that a Ctrl-C while nodes are starting is not lost.
  launcher.stop_on_signals();
  if (auto failure = launcher.start()) {
    std::cerr << "llmos-launch: " << *failure << '\n';
    return 1;
  }
  return launcher.run_until_stopped();
}
