#include "llmos/runtime/options.hpp"

#include <sstream>

#include <boost/program_options.hpp>

#include "llmos/messages/error.hpp"

namespace po = boost::program_options;

namespace llmos {

bool is_caf_option(const std::string& arg) {
  for (const char* prefix :
       {"--scheduler.", "--middleman.", "--openssl.", "--logger.", "--stream.", "--work-stealing."})
    if (arg.rfind(prefix, 0) == 0)
      return true;
  return false;
}

namespace {

/// Each option within its range, named when it is not.
caf::error check_ranges(const node_options& opts) {
  if (opts.threads == 0 || opts.threads > 256)
    return make_llmos_error(error_code::bad_option, "--threads must be between 1 and 256");
  if (!(opts.rpc_rate >= 0.0 && opts.rpc_rate <= 1e7))
    return make_llmos_error(error_code::bad_option, "--rpc-rate must be from 0 to 10000000");
  if (!(opts.rpc_busy_rate >= 0.0 && opts.rpc_busy_rate <= 1e7))
    return make_llmos_error(error_code::bad_option, "--rpc-busy-rate must be from 0 to 10000000");
  if (opts.rpc_nice < 0 || opts.rpc_nice > 19)
    return make_llmos_error(error_code::bad_option, "--rpc-nice must be from 0 to 19");
  if (!(opts.grace_s >= 0.0 && opts.grace_s <= 3600.0))
    return make_llmos_error(error_code::bad_option, "--grace must be from 0 to 3600 seconds");
  for (const char* level : {"debug", "info", "warning", "error"})
    if (opts.log_level == level)
      return caf::none;
  return make_llmos_error(error_code::bad_option,
                          "--log must be debug, info, warning or error, not '" + opts.log_level +
                              "'");
}

} // namespace

caf::expected<node_options> parse_node_options(int argc, const char* const* argv) {
  node_options opts;
  po::options_description desc{"llmos-node options"};
  desc.add_options()("help,h", "show this help")(
      "topology,t", po::value(&opts.topology_path),
      "topology YAML file (without it: the embedded single-process default)")(
      "node,n", po::value(&opts.node), "which node of the topology this process is")(
      "threads", po::value(&opts.threads)->default_value(2), "CAF scheduler threads")(
      "rpc-port", po::value(&opts.rpc_port),
      "serve msgpack-RPC on this port (overrides the topology; the default node has none)")(
      "log", po::value(&opts.log_level)->default_value("info"), "debug, info, warning or error")(
      "grace", po::value(&opts.grace_s)->default_value(10.0),
      "seconds a stopping node (SIGTERM, SIGINT) lets requests in flight finish and its actors "
      "stop; new requests are refused meanwhile")(
      "rpc-rate", po::value(&opts.rpc_rate)->default_value(0),
      "msgpack-RPC calls per second one connection may make (0: no limit); a client above it "
      "waits, so a flooding client cannot take the cores from serving and heartbeats")(
      "rpc-busy-rate", po::value(&opts.rpc_busy_rate)->default_value(default_rpc_busy_rate),
      "msgpack-RPC calls per second all connections together may make while the node serves "
      "HTTP requests, an equal share each (0: no such limit); with no HTTP request being served "
      "only --rpc-rate applies")(
      "rpc-nice", po::value(&opts.rpc_nice)->default_value(default_rpc_nice),
      "how much lower (0-19, as nice) the RPC port's threads run than the node's own: under "
      "contention, serving and heartbeats come before RPC clients (0: the same priority)");
  std::ostringstream help;
  help << "usage: llmos-node [--topology FILE --node NAME] [options] [CAF options]\n"
       << desc
       << "  CAF options (--scheduler.*, --middleman.*, --openssl.*, --logger.*) pass through.\n";
  opts.help_text = help.str();
  // Boost wants argv without the CAF options, which it cannot know.
  std::vector<std::string> ours;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (is_caf_option(arg))
      opts.caf_args.push_back(arg);
    else
      ours.push_back(arg);
  }
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(ours).options(desc).run(), vm);
    po::notify(vm);
    opts.help = vm.count("help") > 0;
  } catch (const po::error& e) {
    return make_llmos_error(error_code::bad_option,
                            std::string{e.what()} + "; run llmos-node --help for the options");
  }
  if (auto err = check_ranges(opts))
    return err;
  return opts;
}

} // namespace llmos
