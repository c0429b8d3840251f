// orchctl: the command-line tool for orch. `orchctl <command> [flags]`; see
// docs/reference/orchctl.md.
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "command.h"

namespace orch::orchctl {
namespace {

// Every subcommand, in the order `orchctl --help` lists them.
constexpr Command kCommands[] = {
    {"validate", "Decode, default and validate manifests, and list their objects", RunValidate},
    {"place", "Show where the scheduler would put pending pods, and why", RunPlace},
    {"demo", "Run a built-in self-healing story on an in-process cluster, narrated", RunDemo},
};

void PrintUsage(std::ostream& out) {
  out << "usage: orchctl <command> [flags]\n\nCommands:\n";
  for (const Command& command : kCommands) {
    out << "  " << command.name << std::string(12 - command.name.size(), ' ')
        << command.summary << "\n";
  }
  out << "\nRun 'orchctl <command> --help' for a command's flags.\n";
}

int Main(const std::vector<std::string>& argv) {
  if (argv.size() < 2) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  const std::string& name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    PrintUsage(std::cout);
    return kExitOk;
  }
  for (const Command& command : kCommands) {
    if (command.name == name) {
      return command.run(std::span<const std::string>(argv).subspan(2), std::cout, std::cerr);
    }
  }
  std::cerr << "error: unknown command \"" << name << "\"\n\n";
  PrintUsage(std::cerr);
  return kExitUsage;
}

}  // namespace
}  // namespace orch::orchctl

int main(int argc, char** argv) {
  return orch::orchctl::Main(std::vector<std::string>(argv, argv + argc));
}
