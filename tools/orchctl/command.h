// orchctl's subcommands: each is a function from its arguments to an exit code, listed in
// the table in main.cc. A new subcommand (get, apply, ...) is a new file defining one such
// function and one row in that table.
#ifndef ORCH_TOOLS_ORCHCTL_COMMAND_H_
#define ORCH_TOOLS_ORCHCTL_COMMAND_H_

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

namespace orch::orchctl {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and found a problem
inline constexpr int kExitUsage = 2;    // bad flags or arguments

struct Command {
  std::string_view name;
  std::string_view summary;  // one line, for `orchctl --help`
  // `args` excludes the program and subcommand names. Output to `out`, diagnostics to `err`.
  int (*run)(std::span<const std::string> args, std::ostream& out, std::ostream& err);
};

int RunValidate(std::span<const std::string> args, std::ostream& out, std::ostream& err);
int RunPlace(std::span<const std::string> args, std::ostream& out, std::ostream& err);
int RunDemo(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace orch::orchctl

#endif  // ORCH_TOOLS_ORCHCTL_COMMAND_H_
